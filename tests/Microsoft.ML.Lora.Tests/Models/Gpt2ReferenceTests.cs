using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Gpt2;
using static Microsoft.ML.Lora.Tests.Models.ReferenceMath;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>GPT-2 against a double-precision restatement of HF's GPT2LMHeadModel, plus its layout.</summary>
public class Gpt2ReferenceTests
{
    private static readonly long[] Prompt = [5, 17, 3, 42, 8, 60];

    [Fact]
    public void ParameterNamesAndShapesAreHuggingFaceKeys()
    {
        using var model = TinyModels.Create(TinyModels.Gpt2());
        var shapes = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(new long[] { 16, 48 }, shapes["transformer.h.0.attn.c_attn.weight"]);   // Conv1D [in, 3·out]
        Assert.Equal(new long[] { 48 }, shapes["transformer.h.0.attn.c_attn.bias"]);
        Assert.Equal(new long[] { 16, 64 }, shapes["transformer.h.1.mlp.c_fc.weight"]);
        Assert.Equal(new long[] { 64, 16 }, shapes["transformer.h.1.mlp.c_proj.weight"]);
        Assert.Equal(new long[] { 32, 16 }, shapes["transformer.wpe.weight"]);
        foreach (var key in new[] { "transformer.wte.weight", "transformer.ln_f.bias", "transformer.h.0.ln_1.weight", "transformer.h.0.ln_2.bias", "transformer.h.0.attn.c_proj.weight" })
        {
            Assert.Contains(key, shapes.Keys);
        }
        Assert.DoesNotContain("lm_head.weight", shapes.Keys);   // tied to wte
        Assert.Equal(4 + 2 * 12, shapes.Count);
        Assert.All(model.AdaptableLayers(), l => Assert.True(l.Layer.FanInFanOut, l.Name));
        Assert.Equal("transformer", model.BaseModelPrefix);
        Assert.Same(ModelRegistry.ConfigTypeFor("gpt2", "test"), typeof(Gpt2Config));
    }

    [Fact]
    public void ConvOneDSplitsFusedProjectionIntoQueryKeyValueColumns()
    {
        // With c_attn = [I | 0 | 0] (columns 0..15 identity), q = x and k = v = bias only. A bias-only v makes every
        // attention output equal to v's bias whatever the weights, so the output exposes which columns feed v.
        using var model = (Gpt2LMHeadModel)TinyModels.Create(TinyModels.Gpt2());
        var attention = model.transformer.h[0].attn;
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            attention.c_attn.weight.zero_();
            attention.c_attn.weight[.., ..16] = eye(16);
            attention.c_attn.bias!.zero_();
            attention.c_attn.bias![32..] = arange(16, dtype: ScalarType.Float32);
            attention.c_proj.weight.copy_(eye(16));
            attention.c_proj.bias!.zero_();
        }
        var y = attention.Forward(randn(1, 3, 16), null).data<float>().ToArray();
        for (int t = 0; t < 3; t++)
        {
            // Attention weights sum to 1 only to float rounding (the written-out softmax of small heads), hence 1e-5.
            var row = y.Skip(t * 16).Take(16).ToArray();
            Assert.All(Enumerable.Range(0, 16), i => Assert.Equal(i, row[i], 1e-5));
        }
    }

    [Fact]
    public void ForwardMatchesReference()
    {
        var config = TinyModels.Gpt2();
        using var model = TinyModels.Create(config);
        using var scope = NewDisposeScope();
        var logits = TinyModels.Logits(model, TinyModels.Ids(Prompt));
        Assert.InRange(MaxAbsDiff(logits, Reference(config, Weights(model), Prompt)), 0, 2e-5);
    }

    [Fact]
    public void UntiedHeadAndInverseLayerScalingMatchReference()
    {
        var config = TinyModels.Gpt2();
        config.TieWordEmbeddings = false;
        config.ScaleAttnByInverseLayerIdx = true;
        config.ActivationFunction = "gelu";
        using var model = TinyModels.Create(config);
        Assert.Contains("lm_head.weight", model.state_dict().Keys);
        using var scope = NewDisposeScope();
        var logits = TinyModels.Logits(model, TinyModels.Ids(Prompt));
        Assert.InRange(MaxAbsDiff(logits, Reference(config, Weights(model), Prompt)), 0, 2e-5);
    }

    [Fact]
    public void UnknownActivationIsRejected()
    {
        var config = TinyModels.Gpt2();
        config.ActivationFunction = "swiglu_magic";
        Assert.Contains("swiglu_magic", Assert.Throws<InvalidModelConfigException>(() => ModelRegistry.Create(config)).Message);
    }

    /// <summary>HF GPT2LMHeadModel restated: learned positions, pre-LN blocks, Conv1D [in, out], gelu_new, tied head.</summary>
    internal static double[][] Reference(Gpt2Config c, Dictionary<string, double[]> w, long[] ids)
    {
        int e = c.NEmbd, heads = c.NHead, d = e / heads;
        var x = Add(Rows(w["transformer.wte.weight"], e, ids), Rows(w["transformer.wpe.weight"], e, Enumerable.Range(0, ids.Length).Select(i => (long)i)));
        Func<double, double> act = c.ActivationFunction == "gelu" ? Gelu : GeluNew;
        for (int l = 0; l < c.NLayer; l++)
        {
            string p = $"transformer.h.{l}.";
            var h = LayerNorm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], c.LayerNormEpsilon);
            var qkv = Conv1D(h, w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"]);
            var q = qkv.Select(r => r[..e]).ToArray();
            var k = qkv.Select(r => r[e..(2 * e)]).ToArray();
            var v = qkv.Select(r => r[(2 * e)..]).ToArray();
            double scale = 1 / Math.Sqrt(d) / (c.ScaleAttnByInverseLayerIdx ? l + 1 : 1);
            var attended = Attention(q, k, v, heads, heads, d, causal: true, scale: scale);
            x = Add(x, Conv1D(attended, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"]));
            var h2 = LayerNorm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], c.LayerNormEpsilon);
            var inner = Map(Conv1D(h2, w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]), act);
            x = Add(x, Conv1D(inner, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"]));
        }
        x = LayerNorm(x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], c.LayerNormEpsilon);
        return Linear(x, w.GetValueOrDefault("lm_head.weight") ?? w["transformer.wte.weight"], null, c.VocabSize);
    }
}
