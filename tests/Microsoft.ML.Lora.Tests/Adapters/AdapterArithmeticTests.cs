using Microsoft.ML.Lora.Adapters;
using TorchSharp.Modules;
using static Microsoft.ML.Lora.Tests.Adapters.AdapterTestModels;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Adapters;

/// <summary>Weighted adapter combinations and LoRA+ parameter groups.</summary>
public class AdapterArithmeticTests
{
    private static LoraModel TwoAdapters()
    {
        var lora = new LoraModel(TinyLlama());
        lora.AddAdapter("x", QvConfig(r: 4, alpha: 8), seed: 1);
        lora.AddAdapter("y", QvConfig(r: 4, alpha: 2), seed: 2);
        RandomizeB(lora, "x", 3);
        RandomizeB(lora, "y", 4);
        return lora;
    }

    private static Tensor Delta(LoraLayer layer, string adapter) => layer.DeltaWeight(adapter).to(ScalarType.Float64);

    [Fact]
    public void ConcatenationReproducesTheWeightedSumOfDeltasExactly()
    {
        using var scope = NewDisposeScope();
        var lora = TwoAdapters();
        var injection = AdapterArithmetic.AddWeightedAdapter(lora, ["x", "y"], [0.7, -1.5], "xy", AdapterCombination.Concatenate);
        Assert.Equal(8, lora.Adapters["xy"].Rank);
        Assert.Equal(4, injection.TargetedModules.Count);
        foreach (var (path, layer) in lora.LoraLayers().Where(l => l.Layer.HasAdapter("xy")))
        {
            var expected = 0.7 * Delta(layer, "x") - 1.5 * Delta(layer, "y");
            Assert.True(MaxDiff(expected, Delta(layer, "xy")) < 1e-5, path);
            Assert.Equal(1.0, layer.Adapters["xy"].Scale);
        }
    }

    [Fact]
    public void SvdAtFullRankIsExactAndAtLowerRankIsTheBestTruncation()
    {
        using var scope = NewDisposeScope();
        var lora = TwoAdapters();
        AdapterArithmetic.AddWeightedAdapter(lora, ["x", "y"], [1.0, 2.0], "full", AdapterCombination.Svd, svdRank: 8);
        AdapterArithmetic.AddWeightedAdapter(lora, ["x", "y"], [1.0, 2.0], "low", AdapterCombination.Svd, svdRank: 3);
        foreach (var (path, layer) in lora.LoraLayers().Where(l => l.Layer.HasAdapter("full")))
        {
            var sum = Delta(layer, "x") + 2.0 * Delta(layer, "y");
            Assert.True(MaxDiff(sum, Delta(layer, "full")) < 1e-5, path);
            var (u, s, vh) = linalg.svd(sum, fullMatrices: false);
            var best = u[.., ..3].matmul(diag(s[..3])).matmul(vh[..3]);
            Assert.True(MaxDiff(best, Delta(layer, "low")) < 1e-4, path);
            Assert.Equal(3, layer.Adapters["low"].Rank);
        }
    }

    [Fact]
    public void LinearCombinesTheFactorsAsPeftDoes()
    {
        using var scope = NewDisposeScope();
        var lora = TwoAdapters();
        AdapterArithmetic.AddWeightedAdapter(lora, ["x", "y"], [0.5, -0.25], "lin", AdapterCombination.Linear);
        var q = lora.LoraLayers().First(l => l.Path == "model.layers.0.self_attn.q_proj").Layer;
        // ws: 0.5·2 = 1 and −0.25·0.5 = −0.125; A gets the sign, both get √|ws|.
        var (ax, bx) = q.Factors("x");
        var (ay, by) = q.Factors("y");
        var a = ax.to(ScalarType.Float64) * 1.0 - ay.to(ScalarType.Float64) * Math.Sqrt(0.125);
        var b = bx.to(ScalarType.Float64) * 1.0 + by.to(ScalarType.Float64) * Math.Sqrt(0.125);
        Assert.True(MaxDiff(a, q.Factors("lin").A) < 1e-6);
        Assert.True(MaxDiff(b, q.Factors("lin").B) < 1e-6);

        lora.AddAdapter("small", QvConfig(r: 2), seed: 5);
        Assert.Throws<ArgumentException>(() => AdapterArithmetic.AddWeightedAdapter(lora, ["x", "small"], [1, 1], "bad", AdapterCombination.Linear));
    }

    [Fact]
    public void CombinedAdaptersRoundTripThroughThePeftFormat()
    {
        using var scope = NewDisposeScope();
        using var folder = new Checkpoints.TempFolder();
        var lora = TwoAdapters();
        lora.AddAdapter("wide", new LoraConfig { Rank = 2, Alpha = 2, TargetModules = ["q_proj"] }, seed: 6);
        AdapterArithmetic.AddWeightedAdapter(lora, ["x", "wide"], [1, 1], "mix", AdapterCombination.Concatenate);
        PeftAdapterFormat.Export(lora, folder.Path, "mix");
        var fresh = PeftAdapterFormat.Import(TinyLlama(), folder.Path, "mix").Model;
        foreach (var ((path, original), (_, imported)) in lora.LoraLayers().Zip(fresh.LoraLayers()).Where(p => p.First.Layer.HasAdapter("mix")))
        {
            Assert.Equal(original.Adapters["mix"], imported.Adapters["mix"]);
            Assert.True(MaxDiff(Delta(original, "mix"), Delta(imported, "mix")) < 1e-6, path);
        }
    }

    [Fact]
    public void LoraPlusGivesBTheRatioTimesTheLearningRate()
    {
        using var scope = NewDisposeScope();
        var model = TinyLlama();
        model.AddClassificationHead(2);
        var lora = new LoraModel(model);
        var config = new LoraConfig { TargetModules = ["q_proj", "embed_tokens"], ModulesToSave = ["score"], UseDora = false, Bias = LoraBias.All };
        lora.AddAdapter("default", config);
        var groups = LoraPlus.LoraParameterGroups(lora, lr: 1e-3, loraPlusRatio: 16, weightDecay: 0.01);
        Assert.Equal(3, groups.Count);   // no biases in this Llama: no no-decay group
        var q = model.model.layers[0].self_attn.q_proj;
        Assert.Contains(q.LoraA("default"), groups[0].Parameters);
        Assert.Contains(model.score!.SavedCopy("default").Weight, groups[0].Parameters);
        Assert.Contains(q.LoraB("default"), groups[1].Parameters);
        Assert.Contains(model.model.embed_tokens.LoraEmbeddingB("default"), groups[2].Parameters);
        Assert.Equal([1e-3, 16e-3, 1e-6], groups.Select(g => g.Options.LearningRate!.Value));
        Assert.Equal(lora.CountParameters().Trainable, groups.SelectMany(g => g.Parameters).Sum(p => p.numel()));
        using var optimizer = optim.AdamW(groups);
        Assert.Equal(3, optimizer.ParamGroups.Count());
    }
}
