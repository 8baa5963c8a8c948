using TorchSharp;
using Microsoft.ML.Lora.Models.Llama;
using static Microsoft.ML.Lora.Tests.Models.ReferenceMath;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>Whole Llama-family forward passes against a double-precision restatement of HF's LlamaForCausalLM.</summary>
public class LlamaReferenceTests
{
    private static readonly long[] Prompt = [5, 17, 3, 42, 8, 60, 0];

    [Fact]
    public void LlamaWithGroupedQueryAttentionMatchesReference() => AssertMatchesReference(TinyModels.Llama());

    [Fact]
    public void Qwen2WithQkvBiasesAndTiedHeadMatchesReference()
    {
        var config = TinyModels.Llama("qwen2", tie: true);
        using var model = TinyModels.Create(config);
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", keys);
        Assert.Contains("model.layers.0.self_attn.v_proj.bias", keys);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", keys);
        Assert.DoesNotContain("lm_head.weight", keys);
        AssertMatchesReference(config, model);
    }

    [Fact]
    public void MistralSlidingWindowMatchesReference() => AssertMatchesReference(TinyModels.Llama("mistral", slidingWindow: 3));

    [Fact]
    public void ExplicitHeadDimMatchesReference()
    {
        var config = TinyModels.Llama();
        config.HeadDim = 8;   // heads·head_dim = 32 ≠ hidden 16, as some Qwen/Gemma-style configs have
        AssertMatchesReference(config);
    }

    [Fact]
    public void LinearRopeScalingMatchesReference() =>
        AssertMatchesReference(TinyModels.Llama(scaling: new RopeScaling { RopeType = "linear", Factor = 4 }), invFreqDivisor: 4);

    [Fact]
    public void BFloat16ModelStaysCloseToFloat32()
    {
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        using var scope = NewDisposeScope();
        var ids = TinyModels.Ids(Prompt);
        var full = TinyModels.Logits(model, ids);
        model.to(ScalarType.BFloat16);
        var half = TinyModels.Logits(model, ids);
        Assert.Equal(ScalarType.BFloat16, half.dtype);
        double spread = full.abs().max().item<float>();
        // bf16 keeps 8 mantissa bits: a few parts in a hundred of the logit range after two layers.
        Assert.InRange(MaxAbsDiff(full, half), 0, 0.05 * spread);
    }

    private static void AssertMatchesReference(LlamaConfig config, double invFreqDivisor = 1)
    {
        using var model = TinyModels.Create(config);
        AssertMatchesReference(config, model, invFreqDivisor);
    }

    private static void AssertMatchesReference(LlamaConfig config, Microsoft.ML.Lora.Models.PretrainedModel model, double invFreqDivisor = 1)
    {
        using var scope = NewDisposeScope();
        var logits = TinyModels.Logits(model, TinyModels.Ids(Prompt));
        var expected = Reference(config, Weights(model), Prompt, invFreqDivisor);
        Assert.InRange(MaxAbsDiff(logits, expected), 0, 2e-5);
    }

    /// <summary>HF LlamaForCausalLM restated: pre-RMSNorm blocks, half-split RoPE, repeat_kv GQA, SwiGLU.</summary>
    internal static double[][] Reference(LlamaConfig c, Dictionary<string, double[]> w, long[] ids, double invFreqDivisor = 1)
    {
        int hidden = c.HiddenSize, heads = c.NumAttentionHeads, kvHeads = c.KeyValueHeads, d = c.HeadDimension;
        var inv = InverseFrequencies(c.RopeTheta, d).Select(f => f / invFreqDivisor).ToArray();
        var positions = Enumerable.Range(0, ids.Length).Select(i => (long)i).ToArray();
        var x = Rows(w["model.embed_tokens.weight"], hidden, ids);
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            var h = RmsNorm(x, w[p + "input_layernorm.weight"], c.RmsNormEps);
            var q = Rope(Linear(h, w[p + "self_attn.q_proj.weight"], w.GetValueOrDefault(p + "self_attn.q_proj.bias"), heads * d), heads, d, positions, inv);
            var k = Rope(Linear(h, w[p + "self_attn.k_proj.weight"], w.GetValueOrDefault(p + "self_attn.k_proj.bias"), kvHeads * d), kvHeads, d, positions, inv);
            var v = Linear(h, w[p + "self_attn.v_proj.weight"], w.GetValueOrDefault(p + "self_attn.v_proj.bias"), kvHeads * d);
            var attended = Attention(q, k, v, heads, kvHeads, d, causal: true, window: c.AttentionWindow);
            x = Add(x, Linear(attended, w[p + "self_attn.o_proj.weight"], w.GetValueOrDefault(p + "self_attn.o_proj.bias"), hidden));
            var h2 = RmsNorm(x, w[p + "post_attention_layernorm.weight"], c.RmsNormEps);
            var gate = Linear(h2, w[p + "mlp.gate_proj.weight"], null, c.IntermediateSize);
            var up = Linear(h2, w[p + "mlp.up_proj.weight"], null, c.IntermediateSize);
            var product = gate.Select((row, t) => row.Select((g, i) => Silu(g) * up[t][i]).ToArray()).ToArray();
            x = Add(x, Linear(product, w[p + "mlp.down_proj.weight"], null, hidden));
        }
        x = RmsNorm(x, w["model.norm.weight"], c.RmsNormEps);
        return Linear(x, w.GetValueOrDefault("lm_head.weight") ?? w["model.embed_tokens.weight"], null, c.VocabSize);
    }
}
