namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>One encoder layer as traced in the graph, with what it tells about the config.</summary>
internal sealed record BertLayerTrace(
    OnnxLinear Query, OnnxLinear Key, OnnxLinear Value, OnnxLinear AttentionOutput, OnnxLayerNorm AttentionNorm,
    OnnxLinear Intermediate, string Activation, OnnxLinear Output, OnnxLayerNorm OutputNorm, int Heads)
{
    /// <summary>
    /// Traces the post-LN BERT layer reading <paramref name="input"/> [B, T, hidden]: three projections of the
    /// input, told apart by where they meet (query and key in the score MatMul, in that order; value in the
    /// context MatMul after the Softmax), the output projection with its residual and LayerNorm, then the
    /// feed-forward block with its residual and LayerNorm. Returns null when no attention block reads the input
    /// (the end of the stack).
    /// </summary>
    public static BertLayerTrace? TryTrace(OnnxPatterns patterns, string input, long hidden, int layer)
    {
        var graph = patterns.Graph;
        string where = $"encoder layer {layer}";
        var projections = patterns.LinearsReading(input).Where(l => l.InFeatures == hidden && l.OutFeatures == hidden && l.StoredInputMajor).ToList();
        if (projections.Count == 0)
        {
            return null;
        }
        if (projections.Count != 3)
        {
            throw patterns.Fail($"{where}: {projections.Count} projections of width {hidden} read '{input}' where attention has 3 (query, key, value)");
        }
        var paths = projections.Select(p => OnnxViewPath.Follow(graph, p.Output, where)).ToList();
        var scoreMatMul = paths.GroupBy(p => p.Consumer).SingleOrDefault(g => g.Count() == 2 && g.Key.OpType == "MatMul")?.Key
            ?? throw patterns.Fail($"{where}: no MatMul multiplies two of the projections (attention scores)");
        int IndexIn(int i) => paths[i].Consumer == scoreMatMul ? scoreMatMul.Input.IndexOf(paths[i].Value) : -1;
        int query = Enumerable.Range(0, 3).FirstOrDefault(i => IndexIn(i) == 0, -1);
        int key = Enumerable.Range(0, 3).FirstOrDefault(i => IndexIn(i) == 1, -1);
        if (query < 0 || key < 0)
        {
            throw patterns.Fail($"{where}: the score MatMul does not multiply a query by a key projection");
        }
        int value = 3 - query - key;
        var context = paths[value].Consumer;
        if (context.OpType != "MatMul" || context.Input[1] != paths[value].Value)
        {
            throw patterns.Fail($"{where}: the value projection does not reach the context MatMul ({OnnxGraph.Describe(context)} instead)");
        }
        var scores = OnnxViewPath.Follow(graph, scoreMatMul.Output[0], where + " scores");
        double scale = paths[query].Scale * paths[key].Scale * scores.Scale;
        var probabilities = SoftmaxAfterMask(patterns, scores, where);
        if (probabilities != context.Input[0])
        {
            throw patterns.Fail($"{where}: the attention probabilities do not feed the context MatMul");
        }
        int heads = HeadCount(patterns, paths[query], hidden, where);
        double expected = 1 / Math.Sqrt(hidden / heads);
        if (Math.Abs(scale - expected) > 1e-4 * expected)
        {
            throw patterns.Fail($"{where}: attention scores are scaled by {scale:G6}, not 1/sqrt(head_dim) = {expected:G6}");
        }
        var merged = OnnxViewPath.Follow(graph, context.Output[0], where + " context");
        var attentionOutput = patterns.SingleLinear(merged.Value, hidden, where + " attention output");
        var attentionNorm = patterns.LayerNormOf(patterns.SumOf(attentionOutput.Output, input, where + " attention"), where + " attention output");
        var expansions = patterns.LinearsReading(attentionNorm.Output);
        if (expansions is not [var intermediate])
        {
            throw patterns.Fail($"{where}: {expansions.Count} feed-forward expansions read the attention output where one was expected");
        }
        var (activation, activated) = OnnxActivation.Recognise(graph, intermediate.Output, intermediate.OutFeatures, where + " feed-forward");
        var output = patterns.SingleLinear(activated, hidden, where + " feed-forward output");
        var outputNorm = patterns.LayerNormOf(patterns.SumOf(output.Output, attentionNorm.Output, where + " feed-forward"), where + " output");
        return new BertLayerTrace(projections[query], projections[key], projections[value], attentionOutput, attentionNorm,
            intermediate, activation, output, outputNorm, heads);
    }

    /// <summary>The HF names of this layer's tensors paired with the graph's tensors.</summary>
    public IEnumerable<(string Name, string Tensor, bool Transpose)> Weights(int layer)
    {
        string prefix = $"encoder.layer.{layer}.";
        foreach (var (name, linear) in new[]
        {
            ("attention.self.query", Query), ("attention.self.key", Key), ("attention.self.value", Value),
            ("attention.output.dense", AttentionOutput), ("intermediate.dense", Intermediate), ("output.dense", Output),
        })
        {
            yield return (prefix + name + ".weight", linear.Weight, linear.StoredInputMajor);
            yield return (prefix + name + ".bias", linear.Bias, false);
        }
        foreach (var (name, norm) in new[] { ("attention.output.LayerNorm", AttentionNorm), ("output.LayerNorm", OutputNorm) })
        {
            yield return (prefix + name + ".weight", norm.Weight, false);
            yield return (prefix + name + ".bias", norm.Bias, false);
        }
    }

    // scores → (scale) → Add(additive mask) → Softmax over the last axis: returns the probabilities.
    private static string SoftmaxAfterMask(OnnxPatterns patterns, OnnxViewPath scores, string where)
    {
        var node = scores.Consumer;
        if (node.OpType == "Add")
        {
            node = OnnxViewPath.Follow(patterns.Graph, node.Output[0], where + " masked scores").Consumer;
        }
        if (node.OpType != "Softmax" || OnnxGraph.IntAttribute(node, "axis", -1) is not (-1 or 3))
        {
            throw patterns.Fail($"{where}: expected a Softmax over the keys after the scores, found {OnnxGraph.Describe(node)}");
        }
        return node.Output[0];
    }

    // The query is reshaped to [batch, time, heads, head_dim] before the heads are transposed out.
    private static int HeadCount(OnnxPatterns patterns, OnnxViewPath query, long hidden, string where)
    {
        foreach (var shape in query.Reshapes)
        {
            if (shape.Length == 4 && shape[2] != OnnxViewPath.Dynamic && shape[3] != OnnxViewPath.Dynamic)
            {
                long heads = shape[2] > 0 ? shape[2] : shape[3] > 0 ? hidden / shape[3] : 0;
                long headDim = shape[3] > 0 ? shape[3] : heads > 0 ? hidden / heads : 0;
                if (heads > 0 && heads * headDim == hidden)
                {
                    return (int)heads;
                }
            }
        }
        throw patterns.Fail($"{where}: the number of attention heads cannot be read from the query's Reshape (expected [batch, time, heads, head_dim] with constant heads and head_dim)");
    }
}
