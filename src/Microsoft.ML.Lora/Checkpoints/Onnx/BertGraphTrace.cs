using System.Text.RegularExpressions;
using Microsoft.ML.Lora.Models.Bert;

namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>
/// A whole BERT encoder traced in an ONNX graph: its config (sizes from the tables' shapes, heads from the
/// attention Reshape, LayerNorm epsilon and activation from the graph's constants) and, for every HF tensor name,
/// the graph tensor holding it and whether it is stored transposed (MatMul weights are [in, out]).
/// </summary>
internal sealed partial record BertGraphTrace(BertConfig Config, IReadOnlyList<(string Name, string Tensor, bool Transpose)> Weights, bool HasPooler)
{
    public static BertGraphTrace Trace(OnnxGraph graph)
    {
        var patterns = new OnnxPatterns(graph);
        var embeddings = BertEmbeddingsTrace.Trace(patterns);
        long[] word = graph.ConstantShape(embeddings.Word)!;
        long hidden = word[1];
        var layers = new List<BertLayerTrace>();
        string current = embeddings.Norm.Output;
        while (BertLayerTrace.TryTrace(patterns, current, hidden, layers.Count) is { } layer)
        {
            layers.Add(layer);
            current = layer.OutputNorm.Output;
        }
        if (layers.Count == 0)
        {
            throw patterns.Fail($"no attention layer reads the embeddings' output '{current}'");
        }
        var pooler = BertPoolerTrace.TryTrace(patterns, current, hidden);
        var config = new BertConfig
        {
            VocabSize = (int)word[0],
            HiddenSize = (int)hidden,
            NumHiddenLayers = layers.Count,
            NumAttentionHeads = Same(patterns, layers.Select(l => l.Heads), "attention head count"),
            IntermediateSize = (int)Same(patterns, layers.Select(l => l.Intermediate.OutFeatures), "feed-forward width"),
            HiddenAct = Same(patterns, layers.Select(l => l.Activation), "activation"),
            MaxPositionEmbeddings = (int)graph.ConstantShape(embeddings.Position)![0],
            TypeVocabSize = (int)graph.ConstantShape(embeddings.TokenType)![0],
            LayerNormEps = Same(patterns, layers.SelectMany(l => new[] { l.AttentionNorm.Eps, l.OutputNorm.Eps }).Prepend(embeddings.Norm.Eps), "LayerNorm epsilon"),
            PadTokenId = 0,
        };
        var weights = embeddings.Weights().Concat(layers.SelectMany((l, i) => l.Weights(i))).ToList();
        if (pooler is not null)
        {
            weights.Add(("pooler.dense.weight", pooler.Weight, pooler.StoredInputMajor));
            weights.Add(("pooler.dense.bias", pooler.Bias, false));
        }
        RequireConsistentNames(patterns, weights);
        return new BertGraphTrace(config, weights, pooler is not null);
    }

    private static T Same<T>(OnnxPatterns patterns, IEnumerable<T> values, string what)
    {
        var distinct = values.Distinct().ToList();
        return distinct.Count == 1 ? distinct[0]
            : throw patterns.Fail($"the layers disagree on the {what} ({string.Join(", ", distinct)}); one config cannot describe them");
    }

    // Exporters keep the names of tensors they did not fold (biases, norms, embeddings). The trace never reads
    // them, but where one is an HF name it must agree with the place the trace found it in: a disagreement means
    // the graph is wired differently from BERT (or the trace is wrong), and a silently mislabelled weight is worse
    // than an error.
    private static void RequireConsistentNames(OnnxPatterns patterns, List<(string Name, string Tensor, bool Transpose)> weights)
    {
        var conflicts = weights
            .Where(w => HfTensorName().IsMatch(w.Tensor) && w.Tensor != w.Name)
            .Select(w => $"'{w.Tensor}' is used as '{w.Name}'")
            .ToList();
        if (conflicts.Count > 0)
        {
            throw patterns.Fail($"tensor names contradict the traced structure: {string.Join("; ", conflicts.Take(3))}");
        }
        var reused = weights.GroupBy(w => w.Tensor).FirstOrDefault(g => g.Count() > 1);
        if (reused is not null)
        {
            throw patterns.Fail($"tensor '{reused.Key}' is used as {string.Join(" and ", reused.Select(w => w.Name))}");
        }
    }

    [GeneratedRegex(@"^(embeddings|encoder\.layer\.\d+|pooler)\.[A-Za-z_.]+$")]
    private static partial Regex HfTensorName();
}
