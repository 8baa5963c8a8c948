using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Adapters.Storage;
using Microsoft.ML.Lora.Models.Llama;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Adapters;

public class BaseQuantizerTests
{
    [Fact]
    public void QuantisesEveryFrozenLinearLayerButNotEmbeddingsOrTheLanguageModelHead()
    {
        using var scope = NewDisposeScope();
        using var model = NewModel(seed: 1);
        long denseFrozen = MixedPrecision.FrozenWeightBytes(model);
        long denseLinear = BaseQuantizer.LinearWeightBytes(model);
        var fingerprint = BaseQuantizer.Quantize(model, FrozenWeightQuantization.Nf4, ScalarType.Float32);

        Assert.NotNull(fingerprint);
        var layers = model.AdaptableLayers().ToList();
        Assert.All(layers.Where(l => l.Name != model.OutputHeadModule), l => Assert.IsType<Nf4Weight>(l.Layer.Storage));
        if (layers.SingleOrDefault(l => l.Name == model.OutputHeadModule).Layer is { } head)
        {
            Assert.IsType<DenseWeight>(head.Storage);
        }
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("model.embed_tokens.weight", keys);
        Assert.DoesNotContain("model.layers.0.mlp.up_proj.weight", keys);
        Assert.Contains(keys, k => k.StartsWith("model.layers.0.self_attn.q_proj.lora_A.", StringComparison.Ordinal));
        // Stored bytes: 4 bits a weight plus constants instead of 32, and the rest of the frozen storage unchanged.
        long linear = BaseQuantizer.LinearWeightBytes(model);
        Assert.InRange(linear, denseLinear / 8, denseLinear / 7);
        Assert.Equal(denseFrozen - denseLinear + linear, MixedPrecision.FrozenWeightBytes(model));
    }

    [Fact]
    public void TheSameDenseBaseQuantisesToTheSameBytes()
    {
        using var scope = NewDisposeScope();
        using var first = NewModel(seed: 2);
        using var second = NewModel(seed: 2);
        using var other = NewModel(seed: 3);
        var a = BaseQuantizer.Quantize(first, FrozenWeightQuantization.Nf4, ScalarType.Float32);
        Assert.Equal(a, BaseQuantizer.Quantize(second, FrozenWeightQuantization.Nf4, ScalarType.Float32));
        Assert.NotEqual(a, BaseQuantizer.Quantize(other, FrozenWeightQuantization.Nf4, ScalarType.Float32));
        // Quantising again the same way leaves the packed bytes as they are; another way is refused.
        Assert.Equal(a, BaseQuantizer.Quantize(first, FrozenWeightQuantization.Nf4, ScalarType.Float32));
        Assert.Throws<QuantizedBaseException>(() => BaseQuantizer.Quantize(first, FrozenWeightQuantization.Int8, ScalarType.Float32));
    }

    [Fact]
    public void AQuantisedModelComputesWhatItsDequantisedDenseTwinComputes()
    {
        using var scope = NewDisposeScope();
        using var quantised = NewModel(seed: 4);
        using var dense = NewModel(seed: 4);
        BaseQuantizer.Quantize(quantised, FrozenWeightQuantization.Nf4, ScalarType.Float32);
        var twins = dense.AdaptableLayers().ToDictionary(l => l.Name, l => l.Layer);
        using (no_grad())
        {
            foreach (var (name, layer) in quantised.AdaptableLayers().Where(l => l.Layer.Storage is QuantizedWeight))
            {
                twins[name].weight.copy_(layer.Storage.Dequantize(ScalarType.Float32));
            }
        }
        var ids = tensor(new long[] { 1, 5, 9, 3, 7, 2 }, [2, 3]);
        var expected = dense.LanguageModelLogits(dense.ForwardHidden(ids));
        var actual = quantised.LanguageModelLogits(quantised.ForwardHidden(ids));
        Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-5));
    }

    private static LlamaForCausalLM NewModel(int seed)
    {
        manual_seed(seed);
        var model = new LlamaForCausalLM(TinyModels.LlamaConfig(64));
        new LoraModel(model).AddAdapter("default", new LoraConfig { Rank = 2, Alpha = 4, TargetModules = ["q_proj", "v_proj"] });
        return model;
    }
}
