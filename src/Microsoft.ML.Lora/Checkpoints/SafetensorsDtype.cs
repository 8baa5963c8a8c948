using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// The safetensors dtype names this library reads and writes, and their TorchSharp equivalents.
/// All data is little-endian; BOOL is one byte per element.
/// </summary>
public static class SafetensorsDtype
{
    private static readonly Dictionary<string, ScalarType> ByName = new(StringComparer.Ordinal)
    {
        ["F64"] = ScalarType.Float64,
        ["F32"] = ScalarType.Float32,
        ["F16"] = ScalarType.Float16,
        ["BF16"] = ScalarType.BFloat16,
        ["I64"] = ScalarType.Int64,
        ["I32"] = ScalarType.Int32,
        ["I16"] = ScalarType.Int16,
        ["I8"] = ScalarType.Int8,
        ["U8"] = ScalarType.Byte,
        ["BOOL"] = ScalarType.Bool,
    };

    private static readonly Dictionary<ScalarType, string> ByType = ByName.ToDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>The supported dtype names, as they appear in a safetensors header.</summary>
    public static IReadOnlyCollection<string> Names => ByName.Keys;

    /// <summary>The TorchSharp type of a safetensors dtype name, or false when the name is not supported.</summary>
    public static bool TryGetScalarType(string name, out ScalarType type) => ByName.TryGetValue(name, out type);

    /// <summary>The safetensors dtype name of a TorchSharp type.</summary>
    /// <exception cref="NotSupportedException">The type has no safetensors equivalent here (complex, quantized).</exception>
    public static string NameOf(ScalarType type) =>
        ByType.TryGetValue(type, out var name)
            ? name
            : throw new NotSupportedException($"Tensors of type {type} cannot be stored in safetensors by this library (supported: {string.Join(", ", ByName.Keys)}).");

    /// <summary>Bytes per element of a supported type.</summary>
    public static int ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new NotSupportedException($"Tensors of type {type} cannot be stored in safetensors by this library."),
    };

    /// <summary>
    /// The TorchSharp type named by an HF <c>torch_dtype</c> string ("float32", "bfloat16", "float16", "float64",
    /// with or without a "torch." prefix), or null when the name is not a floating-point type this library loads.
    /// </summary>
    public static ScalarType? FromTorchDtypeName(string? name) => name?.Replace("torch.", "", StringComparison.Ordinal) switch
    {
        "float32" or "float" => ScalarType.Float32,
        "bfloat16" => ScalarType.BFloat16,
        "float16" or "half" => ScalarType.Float16,
        "float64" or "double" => ScalarType.Float64,
        _ => null,
    };

    /// <summary>The HF <c>torch_dtype</c> string for a floating-point type ("float32", "bfloat16", ...).</summary>
    public static string TorchDtypeName(ScalarType type) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float64 => "float64",
        _ => throw new NotSupportedException($"{type} is not a floating-point weight type."),
    };
}
