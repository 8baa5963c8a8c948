using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Bert;
using static Microsoft.ML.Lora.Tests.Models.ReferenceMath;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>BERT, RoBERTa and DistilBERT against double-precision restatements of HF's modeling code.</summary>
public class BertReferenceTests
{
    private static readonly long[] Tokens = [2, 17, 33, 42, 8, 60];

    [Fact]
    public void BertClassifierMatchesReferenceWithTokenTypes()
    {
        var config = TinyModels.Bert("bert");
        using var model = (BertForSequenceClassification)TinyModels.Create(config);
        model.AddClassificationHead(3);
        model.eval();
        using var scope = NewDisposeScope();
        long[] types = [0, 0, 0, 1, 1, 1];
        var logits = model.ClassificationLogits(TinyModels.Ids(Tokens), ones(1, 6, ScalarType.Int64), TinyModels.Ids(types));
        var expected = BertReference(config, Weights(model), "bert", Tokens, types, out var hidden);
        var w = Weights(model);
        var pooled = Map(Linear([hidden[0]], w["bert.pooler.dense.weight"], w["bert.pooler.dense.bias"], 16), Math.Tanh);
        var classes = Linear(pooled, w["classifier.weight"], w["classifier.bias"], 3);
        Assert.InRange(MaxAbsDiff(model.Encode(TinyModels.Ids(Tokens), null, TinyModels.Ids(types)), expected), 0, 2e-5);
        Assert.InRange(MaxAbsDiff(logits.unsqueeze(0), classes), 0, 2e-5);
        Assert.Throws<ModelInputException>(() => model.Encode(TinyModels.Ids(Tokens), null, TinyModels.Ids(0, 0, 0, 2, 0, 0)));
    }

    [Fact]
    public void RobertaOffsetsPositionsAndUsesItsTwoLayerHead()
    {
        var config = TinyModels.Bert("roberta");
        using var model = TinyModels.Create(config);
        model.AddClassificationHead(2);
        model.eval();
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("roberta.embeddings.position_embeddings.weight", keys);
        Assert.Contains("classifier.dense.weight", keys);
        Assert.Contains("classifier.out_proj.bias", keys);
        Assert.DoesNotContain(keys, k => k.Contains("pooler", StringComparison.Ordinal));
        using var scope = NewDisposeScope();
        var w = Weights(model);
        var hidden = BertReference(config, w, "roberta", Tokens, new long[Tokens.Length], out _);
        Assert.InRange(MaxAbsDiff(model.ForwardHidden(TinyModels.Ids(Tokens)), hidden), 0, 2e-5);
        var dense = Map(Linear([hidden[0]], w["classifier.dense.weight"], w["classifier.dense.bias"], 16), Math.Tanh);
        var classes = Linear(dense, w["classifier.out_proj.weight"], w["classifier.out_proj.bias"], 2);
        Assert.InRange(MaxAbsDiff(model.ClassificationLogits(TinyModels.Ids(Tokens), ones(1, 6, ScalarType.Int64)).unsqueeze(0), classes), 0, 2e-5);
        // 32 position rows minus padding_idx (1) minus one: 30 usable positions.
        Assert.Equal(30, model.MaxSequenceLength);
    }

    [Fact]
    public void DistilBertMatchesReferenceWithPreClassifier()
    {
        var config = TinyModels.Bert("distilbert");
        using var model = TinyModels.Create(config);
        model.AddClassificationHead(2);
        model.eval();
        Assert.Equal(["pre_classifier", "classifier"], model.ClassificationHeadModules);
        var w = Weights(model);
        int hiddenWidth = 16, ffn = 24, heads = 4, d = 4;
        var x = LayerNorm(Add(Rows(w["distilbert.embeddings.word_embeddings.weight"], hiddenWidth, Tokens),
                Rows(w["distilbert.embeddings.position_embeddings.weight"], hiddenWidth, Enumerable.Range(0, Tokens.Length).Select(i => (long)i))),
            w["distilbert.embeddings.LayerNorm.weight"], w["distilbert.embeddings.LayerNorm.bias"], 1e-12);
        for (int l = 0; l < 2; l++)
        {
            string p = $"distilbert.transformer.layer.{l}.";
            var q = Linear(x, w[p + "attention.q_lin.weight"], w[p + "attention.q_lin.bias"], hiddenWidth);
            var k = Linear(x, w[p + "attention.k_lin.weight"], w[p + "attention.k_lin.bias"], hiddenWidth);
            var v = Linear(x, w[p + "attention.v_lin.weight"], w[p + "attention.v_lin.bias"], hiddenWidth);
            var attended = Linear(Attention(q, k, v, heads, heads, d, causal: false), w[p + "attention.out_lin.weight"], w[p + "attention.out_lin.bias"], hiddenWidth);
            var h = LayerNorm(Add(attended, x), w[p + "sa_layer_norm.weight"], w[p + "sa_layer_norm.bias"], 1e-12);
            var inner = Map(Linear(h, w[p + "ffn.lin1.weight"], w[p + "ffn.lin1.bias"], ffn), Gelu);
            x = LayerNorm(Add(Linear(inner, w[p + "ffn.lin2.weight"], w[p + "ffn.lin2.bias"], hiddenWidth), h),
                w[p + "output_layer_norm.weight"], w[p + "output_layer_norm.bias"], 1e-12);
        }
        using var scope = NewDisposeScope();
        Assert.InRange(MaxAbsDiff(model.ForwardHidden(TinyModels.Ids(Tokens)), x), 0, 2e-5);
        var pre = Map(Linear([x[0]], w["pre_classifier.weight"], w["pre_classifier.bias"], hiddenWidth), v => Math.Max(0, v));
        var classes = Linear(pre, w["classifier.weight"], w["classifier.bias"], 2);
        Assert.InRange(MaxAbsDiff(model.ClassificationLogits(TinyModels.Ids(Tokens), ones(1, 6, ScalarType.Int64)).unsqueeze(0), classes), 0, 2e-5);
    }

    [Fact]
    public void DistilBertBaseShapesMatchThePeftAdapterTargets()
    {
        // distilbert-base-uncased: dim 768, 6 layers, 12 heads, hidden 3072, vocab 30522 (the PEFT imdb adapter's base).
        var config = new BertConfig { ModelType = "distilbert", Dim = 768, NLayers = 6, NHeads = 12, HiddenDim = 3072, VocabSize = 30522 };
        using var model = ModelRegistry.Create(config);
        var adapterConfig = File.ReadAllText(SharedData.PathOf("adapters/peft-distilbert-imdb/adapter_config.json"));
        var layers = model.AdaptableLayers().ToDictionary(l => l.Name, l => l.Layer);
        foreach (var target in new[] { "q_lin", "v_lin" })
        {
            Assert.Contains($"\"{target}\"", adapterConfig);
            var layer = layers[$"distilbert.transformer.layer.5.attention.{target}"];
            Assert.Equal((768, 768), (layer.InFeatures, layer.OutFeatures));
        }
        Assert.Equal(6 * 6 + 0, layers.Count);   // q/k/v/out_lin + lin1/lin2 per layer, no head until added
    }

    /// <summary>HF BertModel / RobertaModel restated: embeddings, post-LN layers with exact GELU, bidirectional attention.</summary>
    internal static double[][] BertReference(BertConfig c, Dictionary<string, double[]> w, string prefix, long[] ids, long[] types, out double[][] hidden)
    {
        int e = c.Hidden, heads = c.Heads, d = e / heads;
        long offset = prefix == "roberta" ? c.PaddingIndex + 1 : 0;
        string emb = prefix + ".embeddings.";
        var summed = Add(Add(Rows(w[emb + "word_embeddings.weight"], e, ids), Rows(w[emb + "token_type_embeddings.weight"], e, types)),
            Rows(w[emb + "position_embeddings.weight"], e, Enumerable.Range(0, ids.Length).Select(i => i + offset)));
        var x = LayerNorm(summed, w[emb + "LayerNorm.weight"], w[emb + "LayerNorm.bias"], c.LayerNormEps);
        for (int l = 0; l < c.Layers; l++)
        {
            string p = $"{prefix}.encoder.layer.{l}.";
            var q = Linear(x, w[p + "attention.self.query.weight"], w[p + "attention.self.query.bias"], e);
            var k = Linear(x, w[p + "attention.self.key.weight"], w[p + "attention.self.key.bias"], e);
            var v = Linear(x, w[p + "attention.self.value.weight"], w[p + "attention.self.value.bias"], e);
            var context = Attention(q, k, v, heads, heads, d, causal: false);
            var h = LayerNorm(Add(Linear(context, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"], e), x),
                w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], c.LayerNormEps);
            var inner = Map(Linear(h, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"], c.Intermediate), Gelu);
            x = LayerNorm(Add(Linear(inner, w[p + "output.dense.weight"], w[p + "output.dense.bias"], e), h),
                w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], c.LayerNormEps);
        }
        hidden = x;
        return x;
    }
}
