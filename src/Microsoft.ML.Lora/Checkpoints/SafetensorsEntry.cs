using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>One tensor described by a safetensors header (validated: offsets lie inside the data section).</summary>
/// <param name="Name">The tensor's key, for example <c>model.layers.0.self_attn.q_proj.weight</c>.</param>
/// <param name="Dtype">The safetensors dtype name ("F32", "BF16", ...).</param>
/// <param name="ScalarType">The matching TorchSharp type.</param>
/// <param name="Shape">The dimensions (empty for a scalar).</param>
/// <param name="Begin">Start of the tensor's bytes, relative to the data section.</param>
/// <param name="End">End (exclusive) of the tensor's bytes, relative to the data section.</param>
public sealed record SafetensorsEntry(string Name, string Dtype, ScalarType ScalarType, IReadOnlyList<long> Shape, long Begin, long End)
{
    /// <summary>Number of bytes of the tensor's data.</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements (product of the shape; 1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape as an array, as TorchSharp factories take it.</summary>
    public long[] ShapeArray => [.. Shape];
}
