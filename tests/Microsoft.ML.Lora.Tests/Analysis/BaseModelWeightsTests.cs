using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Analysis;
using Microsoft.ML.Lora.Checkpoints;
using static Microsoft.ML.Lora.Tests.Analysis.AnalysisTestMatrices;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Analysis;

/// <summary>W read by module name and turned to ΔW's [out, in] orientation, for Linear and GPT-2 Conv1D bases.</summary>
public sealed class BaseModelWeightsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string WriteBase(string modelType, Dictionary<string, Tensor> tensors)
    {
        var folder = Path.Combine(_dir.Path, modelType);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), $"{{\"model_type\": \"{modelType}\"}}");
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors.Select(kv => KeyValuePair.Create(kv.Key, kv.Value.to(ScalarType.Float32))));
        return folder;
    }

    [Fact]
    public void Gpt2Conv1DWeightsAreTransposedToOutIn()
    {
        using var scope = NewDisposeScope();
        // GPT2Model checkpoints store Conv1D weights [in, out] and omit the "transformer." prefix PEFT's paths carry.
        var cAttn = Gaussian(8, 24, seed: 1).to(ScalarType.Float32).to(ScalarType.Float64);
        var cProj = Gaussian(8, 8, seed: 2).to(ScalarType.Float32).to(ScalarType.Float64);
        var folder = WriteBase("gpt2", new() { ["h.0.attn.c_attn.weight"] = cAttn, ["h.0.attn.c_proj.weight"] = cProj });
        using var weights = BaseModelWeights.OpenFolder(folder);
        Assert.Equal("gpt2", weights.ModelType);

        var attn = weights.WeightOf(Factors(Gaussian(24, 2, 3), Gaussian(2, 8, 4), module: "transformer.h.0.attn.c_attn"));
        Assert.Equal((24, 8), (attn.Rows, attn.Columns));
        Assert.True(MaxAbsDiff(attn.ToTensor(), cAttn.t()) == 0);
        // A square Conv1D weight fits both ways; GPT-2 stores it [in, out] all the same.
        var proj = weights.WeightOf(Factors(Gaussian(8, 2, 5), Gaussian(2, 8, 6), module: "transformer.h.0.attn.c_proj"));
        Assert.True(MaxAbsDiff(proj.ToTensor(), cProj.t()) == 0);
    }

    [Fact]
    public void LinearWeightsKeepTheirOrientationAndMismatchesAreNamed()
    {
        using var scope = NewDisposeScope();
        var q = Gaussian(8, 8, seed: 7).to(ScalarType.Float32).to(ScalarType.Float64);
        var folder = WriteBase("llama", new() { ["model.layers.0.self_attn.q_proj.weight"] = q });
        using var weights = BaseModelWeights.OpenFolder(folder);
        var w = weights.WeightOf(Factors(Gaussian(8, 2, 8), Gaussian(2, 8, 9)));
        Assert.True(MaxAbsDiff(w.ToTensor(), q) == 0);

        var wrongShape = Assert.Throws<AdapterMismatchException>(() => weights.WeightOf(Factors(Gaussian(16, 2, 10), Gaussian(2, 8, 11))));
        Assert.Contains("[8, 8]", wrongShape.Message);
        var missing = Assert.Throws<AdapterMismatchException>(() => weights.WeightOf(Factors(Gaussian(8, 2, 12), Gaussian(2, 8, 13), module: "model.layers.0.self_attn.k_proj")));
        Assert.Contains("k_proj", missing.Message);
    }
}
