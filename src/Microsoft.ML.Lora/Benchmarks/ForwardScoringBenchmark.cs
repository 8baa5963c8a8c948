using System.Diagnostics;
using System.Text.Json.Serialization;
using Microsoft.ML.Lora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>
/// Batched classification scoring on a real-sized model shape (<c>mllora bench score --preset</c>): the forward of a
/// preset's randomly initialised model with a classification head over rows whose token counts are given (a preset has
/// no tokenizer, so ids are drawn at those lengths), length-bucketed as <c>Transform</c> batches them. Its
/// <c>forward_mfu</c> counts model FLOPs on real (non-padding) tokens only, against the in-process GEMM peak.
/// </summary>
public static class ForwardScoringBenchmark
{
    /// <summary>Times the forward over <paramref name="tokenLengths"/> rows (each clamped to [1, max length]).</summary>
    public static ForwardScoringResult Run(string preset, IReadOnlyList<int> tokenLengths, ScoringBenchmarkOptions? options = null,
        ScalarType dtype = ScalarType.Float32, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(tokenLengths);
        options ??= new ScoringBenchmarkOptions();
        if (tokenLengths.Count == 0)
        {
            throw new ArgumentException("No rows to score.", nameof(tokenLengths));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Rounds, 1, nameof(options.Rounds));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ScoringBatchSize, 1, nameof(options.ScoringBatchSize));
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16))
        {
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "The scoring benchmark runs in float32 or bfloat16.");
        }
        var config = ModelPresets.Config(preset);
        return BenchmarkThreads.Run(options.Threads, () => Measure(preset, config, tokenLengths, options, dtype, log));
    }

    private static ForwardScoringResult Measure(string preset, ModelConfig config, IReadOnlyList<int> lengths, ScoringBenchmarkOptions options,
        ScalarType dtype, Action<string>? log)
    {
        double? loadBefore = ProcessMemory.LoadAverage();
        manual_seed(0);
        using var model = ModelRegistry.Create(config);
        model.AddClassificationHead(2);
        model.to(dtype);
        model.eval();
        int maxLength = Math.Min(options.MaxSequenceLength, model.MaxSequenceLength ?? options.MaxSequenceLength);
        var clamped = lengths.Select(n => Math.Clamp(n, 1, maxLength)).ToList();
        var batches = LengthBuckets(clamped, options.ScoringBatchSize, config.VocabularySize);
        long realTokens = clamped.Sum(n => (long)n);
        long matmul = FlopAccounting.MatmulParameters(model);
        // A classifier reads one position per row and never computes the LM head, which MatmulParameters counts.
        var outputHead = model.AdaptableLayers().Where(l => l.Name == model.OutputHeadModule).Select(l => l.Layer.weight.numel()).ToList();
        matmul -= outputHead.Count > 0 ? outputHead.Sum() : model.IsCausalLanguageModel ? (long)config.VocabularySize * config.ModelWidth : 0;
        double flops = clamped.Sum(n => n * FlopAccounting.PerToken(FlopKind.Forward, matmul, config.LayerCount, n, config.ModelWidth));

        using (no_grad())
        {
            RunAll(model, batches);   // warm-up
        }
        var seconds = new List<double>();
        for (int round = 0; round < options.Rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            using (no_grad())
            {
                RunAll(model, batches);
            }
            seconds.Add(clock.Elapsed.TotalSeconds);
            log?.Invoke($"round {round + 1}: {clamped.Count / seconds[^1]:F1} rows/s, {realTokens / seconds[^1]:F0} tokens/s");
        }
        double median = TrainingBenchmark.Median(seconds);
        double peak = HardwareProbes.GemmFlops(dtype);
        long padded = batches.Sum(b => b.Ids.numel());
        foreach (var (ids, mask) in batches)
        {
            ids.Dispose();
            mask.Dispose();
        }
        return new ForwardScoringResult
        {
            Preset = preset,
            Rows = clamped.Count,
            ScoringBatchSize = options.ScoringBatchSize,
            Threads = get_num_threads(),
            Dtype = dtype == ScalarType.BFloat16 ? "bf16" : "fp32",
            RealTokens = realTokens,
            PaddedTokens = padded,
            RowsPerSecond = clamped.Count / median,
            RealTokensPerSecond = realTokens / median,
            ForwardFlopsPerSecond = flops / median,
            GemmFlopsPerSecond = peak,
            ForwardMfu = flops / median / peak,
            LoadAverage = [.. new[] { loadBefore, ProcessMemory.LoadAverage() }.OfType<double>()],
        };
    }

    /// <summary>Rows sorted by length, cut into batches padded to their longest row (right padding, mask 0).</summary>
    internal static List<(Tensor Ids, Tensor Mask)> LengthBuckets(IReadOnlyList<int> lengths, int batchSize, int vocabulary)
    {
        var generator = new TorchSharp.torch.Generator(1);
        var batches = new List<(Tensor, Tensor)>();
        var sorted = lengths.Order().ToList();
        for (int start = 0; start < sorted.Count; start += batchSize)
        {
            var rows = sorted.Skip(start).Take(batchSize).ToList();
            int width = rows[^1];
            var mask = zeros([rows.Count, width], ScalarType.Int64);
            for (int r = 0; r < rows.Count; r++)
            {
                mask[r, TensorIndex.Slice(0, rows[r])].fill_(1);
            }
            // Ids from 3 upwards: clear of the usual special tokens.
            var ids = randint(3, vocabulary, [rows.Count, width], dtype: ScalarType.Int64, generator: generator).mul_(mask);
            batches.Add((ids, mask));
        }
        return batches;
    }

    private static void RunAll(PretrainedModel model, List<(Tensor Ids, Tensor Mask)> batches)
    {
        foreach (var (ids, mask) in batches)
        {
            using var logits = model.ClassificationLogits(ids, mask);
        }
    }
}

/// <summary>What <see cref="ForwardScoringBenchmark.Run"/> measured; JSON names are a contract (<c>mllora bench score --preset --json</c>).</summary>
public sealed record ForwardScoringResult
{
    /// <summary>The model shape.</summary>
    [JsonPropertyName("preset")] public string Preset { get; init; } = "";

    /// <summary>Rows scored per round.</summary>
    [JsonPropertyName("rows")] public int Rows { get; init; }

    /// <summary>Rows per batch.</summary>
    [JsonPropertyName("scoring_batch_size")] public int ScoringBatchSize { get; init; }

    /// <summary>torch intra-op threads.</summary>
    [JsonPropertyName("threads")] public int Threads { get; init; }

    /// <summary>fp32 or bf16.</summary>
    [JsonPropertyName("dtype")] public string Dtype { get; init; } = "";

    /// <summary>Non-padding tokens per round.</summary>
    [JsonPropertyName("real_tokens")] public long RealTokens { get; init; }

    /// <summary>Tokens including padding (what the length buckets computed on).</summary>
    [JsonPropertyName("padded_tokens")] public long PaddedTokens { get; init; }

    /// <summary>Rows per second (median round).</summary>
    [JsonPropertyName("rows_per_second_batched")] public double RowsPerSecond { get; init; }

    /// <summary>Real tokens per second (median round).</summary>
    [JsonPropertyName("real_tokens_per_second")] public double RealTokensPerSecond { get; init; }

    /// <summary>Model FLOP/s of the forward on real tokens.</summary>
    [JsonPropertyName("forward_flops_per_second")] public double ForwardFlopsPerSecond { get; init; }

    /// <summary>The in-process GEMM peak in the same dtype (<see cref="HardwareProbes.GemmFlops"/>).</summary>
    [JsonPropertyName("gemm_flops_per_second")] public double GemmFlopsPerSecond { get; init; }

    /// <summary>forward_flops_per_second / gemm_flops_per_second.</summary>
    [JsonPropertyName("forward_mfu")] public double ForwardMfu { get; init; }

    /// <summary>1-minute load average before and after.</summary>
    [JsonPropertyName("load_average")] public IReadOnlyList<double> LoadAverage { get; init; } = [];
}
