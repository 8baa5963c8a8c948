namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>An .onnx file cannot be read as an ONNX model (not protobuf, truncated, or no graph).</summary>
public sealed class OnnxFormatException(string filePath, string problem, Exception? inner = null)
    : CheckpointFormatException(filePath, problem, inner);

/// <summary>
/// An ONNX model parses but its graph is not one the BERT importer recognises. <see cref="Unrecognised"/> names
/// what did not match (an operator, a value, a constant) so the graph can be inspected at that place.
/// </summary>
public sealed class UnsupportedOnnxGraphException(string filePath, string unrecognised)
    : NotSupportedException($"{filePath}: not a BERT-family encoder graph this importer recognises: {unrecognised}.")
{
    /// <summary>The ONNX file.</summary>
    public string FilePath { get; } = filePath;

    /// <summary>What was not recognised.</summary>
    public string Unrecognised { get; } = unrecognised;
}
