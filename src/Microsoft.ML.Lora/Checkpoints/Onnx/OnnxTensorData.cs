using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>
/// Reads the values of ONNX <see cref="TensorProto"/>s, stored either as <c>raw_data</c> (little-endian bytes)
/// or in the typed repeated fields; tensors kept in external files are refused with a clear error.
/// </summary>
internal static class OnnxTensorData
{
    /// <summary>The number of elements (1 for a scalar).</summary>
    public static long ElementCount(TensorProto tensor) => tensor.Dims.Aggregate(1L, (a, d) => a * d);

    /// <summary>Whether the tensor holds floating-point values.</summary>
    public static bool IsFloat(TensorProto tensor) => (DataType)tensor.DataType is DataType.Float or DataType.Double or DataType.Float16;

    /// <summary>Whether the tensor holds integers.</summary>
    public static bool IsInteger(TensorProto tensor) => (DataType)tensor.DataType is DataType.Int64 or DataType.Int32;

    /// <summary>The values of a small floating-point tensor.</summary>
    public static double[] Floats(TensorProto tensor, string source)
    {
        RequireInline(tensor, source);
        var raw = tensor.RawData.Span;
        return (DataType)tensor.DataType switch
        {
            DataType.Float when raw.Length > 0 => [.. MemoryMarshal.Cast<byte, float>(raw).ToArray().Select(f => (double)f)],
            DataType.Float => [.. tensor.FloatData.Select(f => (double)f)],
            DataType.Double when raw.Length > 0 => MemoryMarshal.Cast<byte, double>(raw).ToArray(),
            DataType.Double => [.. tensor.DoubleData],
            DataType.Float16 when raw.Length > 0 => [.. MemoryMarshal.Cast<byte, Half>(raw).ToArray().Select(h => (double)h)],
            DataType.Float16 => [.. tensor.Int32Data.Select(bits => (double)BitConverter.UInt16BitsToHalf((ushort)bits))],
            _ => throw Unsupported(tensor, source, "floating-point values"),
        };
    }

    /// <summary>The values of an integer tensor.</summary>
    public static long[] Int64s(TensorProto tensor, string source)
    {
        RequireInline(tensor, source);
        var raw = tensor.RawData.Span;
        return (DataType)tensor.DataType switch
        {
            DataType.Int64 when raw.Length > 0 => ReadInt64s(raw),
            DataType.Int64 => [.. tensor.Int64Data],
            DataType.Int32 when raw.Length > 0 => [.. MemoryMarshal.Cast<byte, int>(raw).ToArray().Select(v => (long)v)],
            DataType.Int32 => [.. tensor.Int32Data.Select(v => (long)v)],
            _ => throw Unsupported(tensor, source, "integers"),
        };
    }

    /// <summary>A weight as a float32 TorchSharp tensor of the same shape (the caller owns it).</summary>
    public static Tensor ToTorch(TensorProto tensor, string source)
    {
        RequireInline(tensor, source);
        long[] shape = [.. tensor.Dims];
        long count = ElementCount(tensor);
        var raw = tensor.RawData.Span;
        Tensor result = (DataType)tensor.DataType switch
        {
            DataType.Float when raw.Length > 0 => FloatTensor(MemoryMarshal.Cast<byte, float>(raw).ToArray(), shape),
            DataType.Float => FloatTensor([.. tensor.FloatData], shape),
            DataType.Float16 or DataType.Double => FloatTensor([.. Floats(tensor, source).Select(v => (float)v)], shape),
            _ => throw Unsupported(tensor, source, "floating-point weights"),
        };
        if (result.numel() != count)
        {
            result.Dispose();
            throw new OnnxFormatException(source, $"tensor '{tensor.Name}' holds {result.numel()} values but its shape [{string.Join(", ", shape)}] needs {count}");
        }
        return result;
    }

    private static Tensor FloatTensor(float[] values, long[] shape)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        return values.LongLength == count ? tensor(values, shape, ScalarType.Float32) : tensor(values, ScalarType.Float32);
    }

    private static long[] ReadInt64s(ReadOnlySpan<byte> raw)
    {
        var values = new long[raw.Length / sizeof(long)];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(i * sizeof(long))..]);
        }
        return values;
    }

    private static void RequireInline(TensorProto tensor, string source)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
        {
            throw new UnsupportedOnnxGraphException(source,
                $"tensor '{tensor.Name}' keeps its data in an external file; save the model with its weights inside the .onnx file");
        }
    }

    private static UnsupportedOnnxGraphException Unsupported(TensorProto tensor, string source, string expected) =>
        new(source, $"tensor '{tensor.Name}' has ONNX data type {(DataType)tensor.DataType} where {expected} were expected");
}
