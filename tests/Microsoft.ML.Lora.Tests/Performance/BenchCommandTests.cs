using System.Text.Json;
using Microsoft.ML.Lora.Tests.Cli;
using Microsoft.ML.Lora.Tests.MLNet;

namespace Microsoft.ML.Lora.Tests.Performance;

/// <summary>
/// The <c>mllora bench</c> verbs on the smallest preset: each prints one JSON object with the contract keys and
/// self-consistent values. (Speed itself is not asserted: it depends on the machine and its load.)
/// </summary>
public sealed class BenchCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static JsonElement RunJson(params string[] args)
    {
        var (code, output, error) = CliRunner.Run(args);
        Assert.True(code == 0, error);
        return JsonDocument.Parse(output).RootElement;
    }

    private static void HasKeys(JsonElement json, params string[] keys) =>
        Assert.All(keys, key => Assert.True(json.TryGetProperty(key, out _), $"missing key '{key}' in {json}"));

    [Fact]
    public void TrainReportsTheContractKeysConsistently()
    {
        var json = RunJson("bench", "train", "--preset", "stories260k", "--seq", "32", "--batch", "2", "--steps", "2", "--warmup", "1", "--json");
        HasKeys(json, "preset", "mode", "precision", "quantize", "seq", "batch", "steps", "step_seconds_median", "tokens_per_second",
            "peak_rss_bytes", "frozen_weight_bytes", "frozen_linear_weight_bytes", "trainable_parameters", "flops_per_token", "achieved_flops", "gemm_peak_flops", "mfu",
            "precision_chosen", "cpu_features");
        Assert.Equal("fp32", json.GetProperty("precision_chosen").GetString());
        Assert.Equal(Runtime.CpuFeatures.Current.Reported, json.GetProperty("cpu_features").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(("stories260k", "lora", "fp32", "none", 32, 2, 2), (json.GetProperty("preset").GetString(), json.GetProperty("mode").GetString(),
            json.GetProperty("precision").GetString(), json.GetProperty("quantize").GetString(), json.GetProperty("seq").GetInt32(),
            json.GetProperty("batch").GetInt32(), json.GetProperty("steps").GetInt32()));
        double median = json.GetProperty("step_seconds_median").GetDouble();
        Assert.Equal(64 / median, json.GetProperty("tokens_per_second").GetDouble(), 6);
        Assert.Equal(json.GetProperty("flops_per_token").GetDouble() * json.GetProperty("tokens_per_second").GetDouble(), json.GetProperty("achieved_flops").GetDouble(), 0);
        Assert.Equal(json.GetProperty("achieved_flops").GetDouble() / json.GetProperty("gemm_peak_flops").GetDouble(), json.GetProperty("mfu").GetDouble(), 9);
        // stories260K: 5 layers × 8 ranks × (q 64+64, k 64+32, v 64+32, o 64+64, gate 64+172, up 64+172, down 172+64).
        Assert.Equal(5 * 8 * (128 + 96 + 96 + 128 + 236 + 236 + 236), json.GetProperty("trainable_parameters").GetInt64());
        Assert.True(json.GetProperty("frozen_weight_bytes").GetInt64() > 0);
        Assert.True(json.GetProperty("peak_rss_bytes").GetInt64() > 0);
    }

    [Fact]
    public void QuantizedTrainingReportsItsQuantizationAndPackedBytes()
    {
        string[] shape = ["bench", "train", "--preset", "stories260k", "--seq", "16", "--batch", "2", "--steps", "1", "--warmup", "0", "--json"];
        var dense = RunJson(shape);
        var nf4 = RunJson([.. shape, "--quantize", "nf4"]);
        Assert.Equal("nf4", nf4.GetProperty("quantize").GetString());
        long denseLinear = dense.GetProperty("frozen_linear_weight_bytes").GetInt64();
        long nf4Linear = nf4.GetProperty("frozen_linear_weight_bytes").GetInt64();
        // stories260K's linear layers hold 5 × (64·64·2 + 64·32·2 + 64·172·3) weights: fp32 4 bytes each; NF4 half a byte plus ≈ 1/64 of constants.
        long weights = 5L * (64 * 64 * 2 + 64 * 32 * 2 + 64 * 172 * 3);
        Assert.Equal(weights * 4, denseLinear);
        Assert.InRange(nf4Linear, weights / 2, weights / 2 + weights / 32);
        // Everything else frozen (embedding, norms) is unchanged: the difference is the linear layers' alone.
        Assert.Equal(dense.GetProperty("frozen_weight_bytes").GetInt64() - denseLinear, nf4.GetProperty("frozen_weight_bytes").GetInt64() - nf4Linear);
        Assert.Equal(dense.GetProperty("trainable_parameters").GetInt64(), nf4.GetProperty("trainable_parameters").GetInt64());

        var (code, _, error) = CliRunner.Run("bench", "train", "--preset", "stories260k", "--quantize", "nf3");
        Assert.Equal(2, code);
        Assert.Contains("--quantize 'nf3'", error);
        (code, _, error) = CliRunner.Run("bench", "train", "--preset", "stories260k", "--mode", "full", "--quantize", "nf4");
        Assert.Equal(2, code);
        Assert.Contains("full fine-tuning", error);
    }

    [Fact]
    public void PrecisionAutoReportsWhatItChoseForThisCpu()
    {
        var json = RunJson("bench", "train", "--preset", "stories260k", "--precision", "auto", "--seq", "16", "--batch", "2", "--steps", "1", "--warmup", "0", "--json");
        string expected = Runtime.CpuFeatures.Current.HasNativeBFloat16 ? "bf16" : "fp32";
        Assert.Equal(expected, json.GetProperty("precision_chosen").GetString());
        Assert.Equal(expected, json.GetProperty("precision").GetString());
    }

    [Fact]
    public void FullFineTuningTrainsEveryWeightAndBf16IsLoraOnly()
    {
        var json = RunJson("bench", "train", "--preset", "stories260k", "--mode", "full", "--seq", "16", "--batch", "2", "--steps", "1", "--warmup", "0", "--json");
        Assert.Equal("full", json.GetProperty("mode").GetString());
        Assert.Equal(0, json.GetProperty("frozen_weight_bytes").GetInt64());
        Assert.True(json.GetProperty("trainable_parameters").GetInt64() > 250_000);

        var (code, _, error) = CliRunner.Run("bench", "train", "--preset", "stories260k", "--mode", "full", "--precision", "bf16");
        Assert.Equal(2, code);
        Assert.Contains("full fine-tuning", error);
        (code, _, error) = CliRunner.Run("bench", "train", "--preset", "gpt5");
        Assert.Equal(2, code);
        Assert.Contains("Unknown preset 'gpt5'", error);
    }

    [Fact]
    public void GenerateReportsPrefillDecodeAndTheBandwidthBound()
    {
        var json = RunJson("bench", "generate", "--preset", "stories260k", "--prompt-tokens", "8", "--decode-steps", "2", "--rounds", "1", "--batch", "2", "--json");
        HasKeys(json, "prefill_tokens_per_second", "decode_tokens_per_second", "bandwidth_bytes_per_second", "bandwidth_bound_tokens_per_second",
            "decode_tokens_per_second_batch", "merged_overhead", "unmerged_overhead", "mixed_adapter_overhead");
        Assert.True(json.GetProperty("mixed_adapter_overhead").GetDouble() > -1);
        long weights = json.GetProperty("weight_bytes").GetInt64();
        // stories260K: embedding 512·64, 5 × (attention 2·64² + 2·32·64, MLP 3·172·64, norms 2·64), final norm 64; fp32.
        Assert.Equal((512 * 64 + 5 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64 + 2 * 64) + 64) * 4, weights);
        Assert.Equal(json.GetProperty("bandwidth_bytes_per_second").GetDouble() / weights, json.GetProperty("bandwidth_bound_tokens_per_second").GetDouble(), 6);
        Assert.True(json.GetProperty("decode_tokens_per_second").GetDouble() > 0);
    }

    [Fact]
    public void ModelsReportsEveryRequestedArchitecture()
    {
        var json = RunJson("bench", "models", "--presets", "stories260k", "--seq", "16", "--json");
        var entry = Assert.Single(json.GetProperty("models").EnumerateArray());
        HasKeys(entry, "preset", "model_type", "parameters", "seq", "forward_tokens_per_second", "decode_tokens_per_second");
        Assert.Equal("llama", entry.GetProperty("model_type").GetString());
        Assert.Equal(16, entry.GetProperty("seq").GetInt32());
    }

    [Fact]
    public void ScoreComparesTransformWithPredictionEngineOnRealRows()
    {
        var data = Path.Combine(_dir.Path, "sms.tsv");
        File.WriteAllLines(data, new[] { "Label\tSMS" }.Concat(RealDataSets.SmsSpam().Take(40).Select(r => $"{(r.Label ? "spam" : "ham")}\t{r.Text.Replace('\t', ' ')}")));
        var json = RunJson("bench", "score", "--model", Stories260K.Folder, "--data", data, "--rows", "40", "--rounds", "1", "--json");
        HasKeys(json, "rows_per_second_batched", "rows_per_second_engine", "speedup");
        Assert.Equal(40, json.GetProperty("rows").GetInt32());
        Assert.Equal(json.GetProperty("rows_per_second_batched").GetDouble() / json.GetProperty("rows_per_second_engine").GetDouble(), json.GetProperty("speedup").GetDouble(), 9);
    }

    [Fact]
    public void ScoreWithAPresetReportsTheForwardMfuOnRealTokens()
    {
        var json = RunJson("bench", "score", "--preset", "stories260k", "--rows", "40", "--rounds", "1", "--batch-size", "8", "--json");
        Assert.Equal("stories260k", json.GetProperty("preset").GetString());
        Assert.Equal(40, json.GetProperty("rows").GetInt32());
        Assert.True(json.GetProperty("real_tokens").GetInt64() <= json.GetProperty("padded_tokens").GetInt64());
        Assert.InRange(json.GetProperty("forward_mfu").GetDouble(), 1e-6, 1.5);
        var (code, _, error) = CliRunner.Run("bench", "score", "--preset", "stories260k", "--precision", "fp8");
        Assert.Equal(2, code);
        Assert.Contains("fp8", error, StringComparison.Ordinal);
    }
}
