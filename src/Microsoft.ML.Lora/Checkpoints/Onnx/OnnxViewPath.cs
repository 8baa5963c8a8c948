using Onnx;

namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>
/// Where a value goes once reshaped, transposed and scaled: the first consumer that computes something (a MatMul,
/// a Softmax, ...), the scalar it was multiplied by on the way, and the shapes it was reshaped to.
/// </summary>
internal sealed record OnnxViewPath(NodeProto Consumer, string Value, double Scale, IReadOnlyList<long[]> Reshapes)
{
    /// <summary>A reshape dimension computed at run time (e.g. batch or sequence length taken from Shape).</summary>
    public const long Dynamic = long.MinValue;

    private static readonly HashSet<string> ViewOps = new(StringComparer.Ordinal) { "Reshape", "Transpose", "Unsqueeze", "Squeeze", "Identity", "Cast" };

    /// <summary>Follows <paramref name="value"/> through view and scalar-scale operators.</summary>
    public static OnnxViewPath Follow(OnnxGraph graph, string value, string what)
    {
        double scale = 1;
        var reshapes = new List<long[]>();
        for (int step = 0; step < 16; step++)
        {
            // Shape (and what reads it) only feeds dynamic sizes into Reshape; it does not carry the values on.
            var readers = graph.Consumers(value).Where(n => n.OpType != "Shape").ToList();
            if (readers.Count != 1)
            {
                throw new UnsupportedOnnxGraphException(graph.Source, $"{what}: '{value}' is read by {readers.Count} operators where one was expected");
            }
            var node = readers[0];
            if (ViewOps.Contains(node.OpType) && node.Input[0] == value)
            {
                if (node.OpType == "Reshape")
                {
                    reshapes.Add(ResolveShape(graph, node.Input[1]));
                }
                value = node.Output[0];
                continue;
            }
            if (node.OpType is "Mul" or "Div" && OnnxGraph.OtherInput(node, value) is { } other && graph.ScalarFloat(other) is { } factor
                && (node.OpType == "Mul" || node.Input[0] == value))
            {
                scale = node.OpType == "Mul" ? scale * factor : scale / factor;
                value = node.Output[0];
                continue;
            }
            return new OnnxViewPath(node, value, scale, reshapes);
        }
        throw new UnsupportedOnnxGraphException(graph.Source, $"{what}: '{value}' passes through too many reshapes");
    }

    /// <summary>The target shape of a Reshape: constants where the graph fixes them, <see cref="Dynamic"/> elsewhere.</summary>
    private static long[] ResolveShape(OnnxGraph graph, string shape)
    {
        if (graph.Integers(shape) is { } fixedShape)
        {
            return fixedShape;
        }
        if (graph.Producer(shape) is { OpType: "Concat" } concat)
        {
            return [.. concat.Input.SelectMany(part => graph.Integers(part) ?? [Dynamic])];
        }
        return [Dynamic];
    }
}
