namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>HF BertPooler as traced in the graph: tanh(dense(hidden[:, 0])), when the export kept it.</summary>
internal static class BertPoolerTrace
{
    /// <summary>The pooler's linear reading the final hidden states' first token, or null when the graph has none.</summary>
    public static OnnxLinear? TryTrace(OnnxPatterns patterns, string lastHidden, long hidden)
    {
        var graph = patterns.Graph;
        foreach (var gather in graph.ConsumersOfType(lastHidden, "Gather"))
        {
            if (gather.Input[0] != lastHidden || OnnxGraph.IntAttribute(gather, "axis", 0) != 1 || graph.Integers(gather.Input[1]) is not [0])
            {
                continue;
            }
            var dense = patterns.LinearsReading(gather.Output[0]).FirstOrDefault(l => l.InFeatures == hidden && l.OutFeatures == hidden);
            if (dense is not null && graph.ConsumersOfType(dense.Output, "Tanh").Any())
            {
                return dense;
            }
        }
        return null;
    }
}
