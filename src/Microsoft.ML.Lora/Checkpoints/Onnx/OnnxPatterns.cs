using System.Globalization;
using Onnx;

namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>
/// A linear layer found in the graph: <c>MatMul(x, W)</c> then <c>Add</c> of a bias (W stored [in, out], the
/// transpose of torch's Linear weight), or <c>Gemm(x, W, b)</c> (W [out, in] when transB = 1).
/// </summary>
internal sealed record OnnxLinear(string Weight, string Bias, string Output, bool StoredInputMajor, long InFeatures, long OutFeatures);

/// <summary>A LayerNorm found in the graph (decomposed or fused): its scale, shift, epsilon and output.</summary>
internal sealed record OnnxLayerNorm(string Weight, string Bias, double Eps, string Output);

/// <summary>Recognises the building blocks of an exported BERT encoder in an <see cref="OnnxGraph"/>.</summary>
internal sealed class OnnxPatterns(OnnxGraph graph)
{
    public OnnxGraph Graph => graph;

    /// <summary>The linear layers (MatMul with a constant 2-D weight, then a bias Add) that read <paramref name="value"/>.</summary>
    public IReadOnlyList<OnnxLinear> LinearsReading(string value)
    {
        var found = new List<OnnxLinear>();
        foreach (var matmul in graph.ConsumersOfType(value, "MatMul"))
        {
            if (matmul.Input.Count != 2 || matmul.Input[0] != value || graph.ConstantShape(matmul.Input[1]) is not [var inFeatures, var outFeatures])
            {
                continue;
            }
            if (graph.Consumers(matmul.Output[0]) is [{ OpType: "Add" } add]
                && OnnxGraph.OtherInput(add, matmul.Output[0]) is { } bias
                && graph.ConstantShape(bias) is [var biasLength] && biasLength == outFeatures)
            {
                found.Add(new OnnxLinear(matmul.Input[1], bias, add.Output[0], StoredInputMajor: true, inFeatures, outFeatures));
            }
        }
        foreach (var gemm in graph.ConsumersOfType(value, "Gemm"))
        {
            if (gemm.Input.Count == 3 && gemm.Input[0] == value && OnnxGraph.IntAttribute(gemm, "transA", 0) == 0
                && OnnxGraph.FloatAttribute(gemm, "alpha", 1) == 1 && OnnxGraph.FloatAttribute(gemm, "beta", 1) == 1
                && graph.ConstantShape(gemm.Input[1]) is [var d0, var d1] && graph.ConstantShape(gemm.Input[2]) is [_])
            {
                bool transposed = OnnxGraph.IntAttribute(gemm, "transB", 0) == 1;
                found.Add(new OnnxLinear(gemm.Input[1], gemm.Input[2], gemm.Output[0], StoredInputMajor: !transposed,
                    transposed ? d1 : d0, transposed ? d0 : d1));
            }
        }
        return found;
    }

    /// <summary>The one linear reading <paramref name="value"/> with the given output width.</summary>
    public OnnxLinear SingleLinear(string value, long outFeatures, string what)
    {
        var candidates = LinearsReading(value).Where(l => l.OutFeatures == outFeatures).ToList();
        return candidates.Count == 1 ? candidates[0]
            : throw Fail($"{what}: expected one MatMul + bias Add of width {outFeatures} reading '{value}', found {candidates.Count}");
    }

    /// <summary>The LayerNorm normalising <paramref name="x"/> over its last axis.</summary>
    public OnnxLayerNorm LayerNormOf(string x, string what)
    {
        if (graph.ConsumersOfType(x, "LayerNormalization").FirstOrDefault() is { } fused && fused.Input.Count >= 3)
        {
            return new OnnxLayerNorm(fused.Input[1], fused.Input[2], OnnxGraph.FloatAttribute(fused, "epsilon", 1e-5f), fused.Output[0]);
        }
        var mean = graph.ConsumersOfType(x, "ReduceMean").FirstOrDefault()
            ?? throw Fail($"{what}: no LayerNorm reads '{x}' (expected ReduceMean or LayerNormalization)");
        var centred = Next(mean.Output[0], "Sub", what, n => n.Input[0] == x);
        var squared = graph.Consumers(centred).FirstOrDefault(n => n.OpType == "Pow" && graph.ScalarFloat(n.Input[1]) == 2
                || n.OpType == "Mul" && n.Input[0] == centred && n.Input[1] == centred)
            ?? throw Fail($"{what}: the LayerNorm at '{x}' does not square its centred input");
        var variance = Next(squared.Output[0], "ReduceMean", what);
        var epsilonAdd = graph.ConsumersOfType(variance, "Add").FirstOrDefault()
            ?? throw Fail($"{what}: the LayerNorm at '{x}' adds no epsilon to its variance");
        var eps = graph.ScalarFloat(OnnxGraph.OtherInput(epsilonAdd, variance) ?? "")
            ?? throw Fail($"{what}: the LayerNorm epsilon at {OnnxGraph.Describe(epsilonAdd)} is not a constant");
        var root = Next(epsilonAdd.Output[0], "Sqrt", what);
        var normalised = Next(root, "Div", what, n => n.Input[0] == centred);
        var scale = graph.ConsumersOfType(normalised, "Mul").FirstOrDefault()
            ?? throw Fail($"{what}: the LayerNorm at '{x}' has no scale (Mul)");
        var shift = graph.ConsumersOfType(scale.Output[0], "Add").FirstOrDefault()
            ?? throw Fail($"{what}: the LayerNorm at '{x}' has no shift (Add)");
        var weight = ConstantVector(OnnxGraph.OtherInput(scale, normalised), what + " LayerNorm weight");
        var bias = ConstantVector(OnnxGraph.OtherInput(shift, scale.Output[0]), what + " LayerNorm bias");
        return new OnnxLayerNorm(weight, bias, AsWritten(eps), shift.Output[0]);
    }

    /// <summary>The Add summing <paramref name="a"/> and <paramref name="b"/> (a residual connection).</summary>
    public string SumOf(string a, string b, string what) =>
        graph.ConsumersOfType(a, "Add").FirstOrDefault(n => OnnxGraph.OtherInput(n, a) == b)?.Output[0]
            ?? throw Fail($"{what}: no Add sums '{a}' and '{b}' (residual connection)");

    public UnsupportedOnnxGraphException Fail(string what) => new(graph.Source, what);

    // The exporter wrote the epsilon as float32 (1e-12 becomes 9.9999999600e-13): keep the decimal it came from.
    private static double AsWritten(double value) =>
        double.Parse(((float)value).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private string Next(string value, string opType, string what, Func<NodeProto, bool>? accept = null) =>
        graph.ConsumersOfType(value, opType).FirstOrDefault(n => accept?.Invoke(n) ?? true)?.Output[0]
            ?? throw Fail($"{what}: expected a {opType} reading '{value}' in a LayerNorm");

    private string ConstantVector(string? value, string what) =>
        value is not null && graph.ConstantShape(value) is [_] ? value : throw Fail($"{what} is not a constant vector");
}
