using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>
/// <c>merge --dtype fp32</c> over a bf16 checkpoint adds W0 + ΔW in full precision and casts once: its logits
/// match a float64 reference (the bf16 weights plus α/√r·B·A written out) as closely as the unmerged adapter does.
/// </summary>
public sealed class CliMergePrecisionTests(ITestOutputHelper output) : IDisposable
{
    private static readonly long[] TokenIds = [1, 403, 407, 261, 379, 300, 42, 11];

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>stories260K stored in bf16, and a PEFT rsLoRA all-linear adapter with non-zero factors for it.</summary>
    private (string Base, string Adapter) Bf16BaseAndPeftAdapter()
    {
        var bf16 = Path.Combine(_dir.Path, "stories260K-bf16");
        using (var model = PretrainedModelLoader.Load(Stories260K.Folder))
        {
            HfModelWriter.Save(model, bf16, ScalarType.BFloat16, extraFiles: HfModelWriter.TokenizerFilesIn(Stories260K.Folder));
        }
        var adapter = Path.Combine(_dir.Path, "peft");
        using (var model = PretrainedModelLoader.Load(bf16, ScalarType.Float32))
        {
            var lora = new LoraModel(model);
            lora.AddAdapter("default", new LoraConfig
            {
                Rank = 4, Alpha = 16, UseRsLora = true, TargetModules = [LoraConfig.AllLinear], InitLoraWeights = LoraInitialization.Random,
            }, seed: 5);
            PeftAdapterFormat.Export(lora, adapter);
        }
        return (bf16, adapter);
    }

    /// <summary>The logits with every weight in float64: W0 (bf16 values) + α/√r · B·A, then a float64 forward pass.</summary>
    private static double[] Float64Reference(string baseFolder, string adapterFolder)
    {
        var config = LoraConfig.Load(adapterFolder);
        double scale = config.Alpha / Math.Sqrt(config.Rank);
        using var model = PretrainedModelLoader.Load(baseFolder, ScalarType.Float64);
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        using var factors = SafetensorsFile.Open(Path.Combine(adapterFolder, PeftAdapterFormat.WeightsFileName));
        using var _ = no_grad();
        int merged = 0;
        foreach (var name in factors.Entries.Select(e => e.Name).Where(n => n.EndsWith(".lora_A.weight", StringComparison.Ordinal)))
        {
            var path = name["base_model.model.".Length..^".lora_A.weight".Length];
            using var a = factors.ReadTensor(name, ScalarType.Float64);
            using var b = factors.ReadTensor(name.Replace(".lora_A.", ".lora_B.", StringComparison.Ordinal), ScalarType.Float64);
            using var delta = b.matmul(a).mul(scale);
            ((AdaptableLinear)modules[path]).weight.add_(delta);
            merged++;
        }
        Assert.Equal(5 * 7, merged); // every linear layer of the 5 decoder layers
        using var ids = tensor(TokenIds, [1, TokenIds.Length]);
        using var logits = model.LanguageModelLogits(model.ForwardHidden(ids));
        return logits.data<double>().ToArray();
    }

    private float[] CliLogits(string model, string name)
    {
        var file = Path.Combine(_dir.Path, name);
        var (code, _, error) = CliRunner.Run("logits", "--model", model, "--token-ids", string.Join(',', TokenIds), "--dtype", "fp32", "--out", file);
        Assert.True(code == 0, error);
        using var logits = SafetensorsFile.Open(file);
        using var values = logits.ReadTensor("logits", ScalarType.Float32);
        return values.data<float>().ToArray();
    }

    private static double MaxError(double[] reference, float[] values) =>
        reference.Zip(values).Max(p => Math.Abs(p.First - p.Second));

    [Fact]
    public void Fp32MergeOfABf16BaseMatchesTheFloat64Reference()
    {
        var (bf16, adapter) = Bf16BaseAndPeftAdapter();
        var zip = Path.Combine(_dir.Path, "adapter.zip");
        var (code, _, error) = CliRunner.Run("peft", "import", "--base", bf16, "--adapter", adapter, "--out", zip);
        Assert.True(code == 0, error);
        var merged = Path.Combine(_dir.Path, "merged-fp32");
        (code, _, error) = CliRunner.Run("merge", "--model", zip, "--dtype", "fp32", "--out", merged);
        Assert.True(code == 0, error);
        using (var weights = SafetensorsFile.Open(Path.Combine(merged, "model.safetensors")))
        {
            Assert.All(weights.Entries, e => Assert.Equal("F32", e.Dtype));
        }

        var reference = Float64Reference(bf16, adapter);
        double unmerged = MaxError(reference, CliLogits(zip, "unmerged.safetensors"));
        double mergedError = MaxError(reference, CliLogits(merged, "merged.safetensors"));
        double spread = reference.Max() - reference.Min();
        output.WriteLine($"max |logit − float64 reference|: fp32 merge {mergedError:G3}, unmerged adapter {unmerged:G3} (logits span {spread:G3})");
        Assert.True(spread > 1, $"logits spread {spread}: the test needs logits of a real scale");
        Assert.True(unmerged < 1e-3, $"unmerged adapter vs float64: {unmerged}");
        Assert.True(mergedError < 1e-3, $"fp32 merge vs float64: {mergedError} (unmerged: {unmerged})");
        Assert.True(mergedError <= 4 * unmerged + 1e-4, $"fp32 merge vs float64: {mergedError}, unmerged: {unmerged}");
    }
}
