using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Models.Llama;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Adapters;

/// <summary>Small random models and tensor helpers shared by the adapter tests.</summary>
internal static class AdapterTestModels
{
    /// <summary>A 2-layer Llama with grouped-query attention, seeded.</summary>
    public static LlamaForCausalLM TinyLlama(long seed = 1, bool tieEmbeddings = false)
    {
        manual_seed(seed);
        var model = new LlamaForCausalLM(TinyConfig(tieEmbeddings));
        model.eval();
        return model;
    }

    /// <summary>The config of <see cref="TinyLlama"/> (the models tests' tiny Llama: vocab 61, width 16, 4 heads, 2 KV heads).</summary>
    public static LlamaConfig TinyConfig(bool tieEmbeddings = false) => Models.TinyModels.Llama(tie: tieEmbeddings);

    /// <summary>Token ids [batch, time] drawn from a seeded generator.</summary>
    public static Tensor Ids(int batch, int time, long seed = 7)
    {
        using var g = new TorchSharp.torch.Generator((ulong)seed);
        return randint(0, TinyConfig().VocabSize, [batch, time], dtype: ScalarType.Int64, generator: g);
    }

    /// <summary>LM logits for a batch.</summary>
    public static Tensor Logits(LlamaForCausalLM model, Tensor ids)
    {
        using var _ = no_grad();
        using var hidden = model.ForwardHidden(ids);
        return model.LanguageModelLogits(hidden);
    }

    /// <summary>Fills every B factor of an adapter with seeded noise so the adapter changes the output.</summary>
    public static void RandomizeB(LoraModel model, string adapter, long seed, double std = 0.5)
    {
        using var g = new TorchSharp.torch.Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (_, layer) in model.LoraLayers())
        {
            if (layer.HasAdapter(adapter))
            {
                layer.Factors(adapter).B.normal_(0, std, g);
            }
        }
    }

    /// <summary>Largest absolute difference between two tensors (as double).</summary>
    public static double MaxDiff(Tensor a, Tensor b)
    {
        using var d = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max();
        return d.item<double>();
    }

    /// <summary>A config targeting the attention q and v projections.</summary>
    public static LoraConfig QvConfig(int r = 4, double alpha = 8) => new() { Rank = r, Alpha = alpha, TargetModules = ["q_proj", "v_proj"] };
}
