using Onnx;

namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>
/// Names the activation between a feed-forward expansion and its projection back, in HF's <c>hidden_act</c>
/// spelling, from the operators and constants the exporter decomposed it into: <c>gelu</c> is the exact erf form
/// 0.5·x·(1 + erf(x/√2)), <c>gelu_new</c> the tanh approximation (constants 0.044715 and √(2/π)).
/// </summary>
internal static class OnnxActivation
{
    private const int MaxNodes = 24;

    /// <summary>
    /// The activation applied to <paramref name="input"/> and the value it produces, which the MatMul with a constant
    /// [<paramref name="width"/>, *] weight reads.
    /// </summary>
    public static (string Name, string Output) Recognise(OnnxGraph graph, string input, long width, string what)
    {
        var nodes = new List<NodeProto>();
        var frontier = new Queue<string>([input]);
        var seen = new HashSet<string>(StringComparer.Ordinal) { input };
        string? output = null;
        while (frontier.Count > 0 && nodes.Count <= MaxNodes)
        {
            var value = frontier.Dequeue();
            foreach (var node in graph.Consumers(value))
            {
                if (node.OpType == "MatMul" && node.Input[0] == value && graph.ConstantShape(node.Input[1]) is [var rows, _] && rows == width)
                {
                    output = output is null || output == value ? value
                        : throw new UnsupportedOnnxGraphException(graph.Source, $"{what}: two projections read the activation");
                    continue;
                }
                if (!nodes.Contains(node))
                {
                    nodes.Add(node);
                    foreach (var produced in node.Output.Where(seen.Add))
                    {
                        frontier.Enqueue(produced);
                    }
                }
            }
        }
        if (output is null || output == input)
        {
            throw new UnsupportedOnnxGraphException(graph.Source, $"{what}: no activation found before the projection back");
        }
        var ops = nodes.Select(n => n.OpType).ToHashSet(StringComparer.Ordinal);
        var constants = nodes.SelectMany(n => n.Input).Select(graph.ScalarFloat).OfType<double>().ToList();
        bool Has(double c) => constants.Any(v => Math.Abs(v - c) < 1e-5 * Math.Max(1, Math.Abs(c)));
        var name = ops switch
        {
            _ when ops.Contains("Gelu") => OnnxGraph.StringAttribute(nodes.First(n => n.OpType == "Gelu"), "approximate") == "tanh" ? "gelu_new" : "gelu",
            _ when ops.Contains("Erf") && (Has(Math.Sqrt(2)) || Has(1 / Math.Sqrt(2))) && Has(0.5) => "gelu",
            _ when ops.Contains("Tanh") && Has(0.044715) && Has(Math.Sqrt(2 / Math.PI)) => "gelu_new",
            _ when ops.SetEquals(["Relu"]) => "relu",
            _ when ops.SetEquals(["Sigmoid", "Mul"]) => "silu",
            _ => throw new UnsupportedOnnxGraphException(graph.Source,
                $"{what}: activation made of [{string.Join(", ", nodes.Select(n => n.OpType))}] is not recognised (known: exact gelu, tanh gelu, relu, silu)"),
        };
        return (name, output);
    }
}
