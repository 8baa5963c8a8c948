using Onnx;

namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>
/// An index over an ONNX graph for tracing: which node produces and which nodes consume each value, and the
/// constant tensors (initializers and <c>Constant</c> nodes' outputs). Names of values are only wiring here;
/// nothing is looked up by what an exporter chose to call a tensor.
/// </summary>
internal sealed class OnnxGraph
{
    private readonly Dictionary<string, NodeProto> _producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorProto> _constants = new(StringComparer.Ordinal);
    private readonly HashSet<string> _initializers = new(StringComparer.Ordinal);

    public OnnxGraph(GraphProto graph, string source)
    {
        Source = source;
        foreach (var tensor in graph.Initializer)
        {
            _constants[tensor.Name] = tensor;
            _initializers.Add(tensor.Name);
        }
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output)
            {
                _producers[output] = node;
            }
            foreach (var input in node.Input.Where(i => i.Length > 0))
            {
                if (!_consumers.TryGetValue(input, out var list))
                {
                    _consumers[input] = list = [];
                }
                list.Add(node);
            }
            if (node.OpType == "Constant" && node.Output.Count == 1 && ConstantValue(node) is { } value)
            {
                _constants[node.Output[0]] = value;
            }
        }
        Inputs = [.. graph.Input.Select(i => i.Name).Where(n => !_initializers.Contains(n))];
        Outputs = [.. graph.Output.Select(o => o.Name)];
    }

    /// <summary>The file the graph came from (for errors).</summary>
    public string Source { get; }

    /// <summary>The graph's runtime inputs (initializers listed as inputs left out).</summary>
    public IReadOnlyList<string> Inputs { get; }

    /// <summary>The graph's outputs.</summary>
    public IReadOnlyList<string> Outputs { get; }

    /// <summary>The node computing <paramref name="value"/>, or null for inputs and initializers.</summary>
    public NodeProto? Producer(string value) => _producers.GetValueOrDefault(value);

    /// <summary>The nodes reading <paramref name="value"/>.</summary>
    public IReadOnlyList<NodeProto> Consumers(string value) => _consumers.TryGetValue(value, out var list) ? list : [];

    /// <summary>Whether <paramref name="value"/> is a constant (initializer or Constant node output).</summary>
    public bool IsConstant(string value) => _constants.ContainsKey(value);

    /// <summary>The constant tensor behind <paramref name="value"/>, or null.</summary>
    public TensorProto? Constant(string value) => _constants.GetValueOrDefault(value);

    /// <summary>Whether <paramref name="value"/> is an initializer (a stored weight, as opposed to a Constant node).</summary>
    public bool IsInitializer(string value) => _initializers.Contains(value);

    /// <summary>The single float of a constant scalar (or one-element tensor), or null when it is not one.</summary>
    public double? ScalarFloat(string value) =>
        Constant(value) is { } t && OnnxTensorData.ElementCount(t) == 1 && OnnxTensorData.IsFloat(t) ? OnnxTensorData.Floats(t, Source)[0] : null;

    /// <summary>The integers of a constant integer tensor, or null when it is not one.</summary>
    public long[]? Integers(string value) =>
        Constant(value) is { } t && OnnxTensorData.IsInteger(t) ? OnnxTensorData.Int64s(t, Source) : null;

    /// <summary>The shape of a constant, or null.</summary>
    public long[]? ConstantShape(string value) => Constant(value) is { } t ? [.. t.Dims] : null;

    /// <summary>The consumers of <paramref name="value"/> with operator <paramref name="opType"/>.</summary>
    public IEnumerable<NodeProto> ConsumersOfType(string value, string opType) => Consumers(value).Where(n => n.OpType == opType);

    /// <summary>The node's other input of a two-input node, given one of them.</summary>
    public static string? OtherInput(NodeProto node, string known) =>
        node.Input.Count != 2 ? null : node.Input[0] == known ? node.Input[1] : node.Input[1] == known ? node.Input[0] : null;

    /// <summary>An integer attribute, or <paramref name="fallback"/>.</summary>
    public static long IntAttribute(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    /// <summary>A float attribute, or <paramref name="fallback"/>.</summary>
    public static float FloatAttribute(NodeProto node, string name, float fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : fallback;

    /// <summary>An integer-list attribute, or null.</summary>
    public static long[]? IntsAttribute(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? [.. a.Ints] : null;

    /// <summary>A string attribute, or null.</summary>
    public static string? StringAttribute(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.S.ToStringUtf8() : null;

    /// <summary>How a node is named in errors: its operator and name, or its first output.</summary>
    public static string Describe(NodeProto node) =>
        $"{node.OpType} node '{(node.Name.Length > 0 ? node.Name : node.Output.FirstOrDefault() ?? "?")}'";

    private static TensorProto? ConstantValue(NodeProto node)
    {
        foreach (var attribute in node.Attribute)
        {
            switch (attribute.Name)
            {
                case "value":
                    return attribute.T;
                case "value_float":
                    return new TensorProto { DataType = (int)TensorProto.Types.DataType.Float, FloatData = { attribute.F } };
                case "value_floats":
                    return new TensorProto { DataType = (int)TensorProto.Types.DataType.Float, Dims = { attribute.Floats.Count }, FloatData = { attribute.Floats } };
                case "value_int":
                    return new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64, Int64Data = { attribute.I } };
                case "value_ints":
                    return new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64, Dims = { attribute.Ints.Count }, Int64Data = { attribute.Ints } };
            }
        }
        return null;
    }
}
