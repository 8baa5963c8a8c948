using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// Raw access to a CPU tensor's storage in chunks. TorchSharp exposes a tensor's bytes as a
/// <see cref="Span{T}"/>, which is limited to 2 GB, so large tensors are visited through flat views of at
/// most <see cref="ChunkBytes"/> bytes each.
/// </summary>
internal static class TensorMemory
{
    /// <summary>Largest chunk handed to a visitor (1 GiB).</summary>
    public const long ChunkBytes = 1L << 30;

    /// <summary>A callback over one chunk: its bytes and its offset from the tensor's first byte.</summary>
    public delegate void ChunkVisitor(Span<byte> chunk, long offset);

    /// <summary>Visits the bytes of a contiguous CPU tensor in order.</summary>
    public static void VisitChunks(Tensor tensor, ChunkVisitor visit)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
        {
            throw new ArgumentException("Raw access needs a contiguous CPU tensor.", nameof(tensor));
        }
        long elements = tensor.numel();
        if (elements == 0)
        {
            return;
        }
        long elementSize = tensor.ElementSize;
        if (elements * elementSize <= ChunkBytes)
        {
            visit(tensor.bytes, 0);
            return;
        }
        using var flat = tensor.view(-1);
        long perChunk = ChunkBytes / elementSize;
        for (long start = 0; start < elements; start += perChunk)
        {
            using var chunk = flat.narrow(0, start, Math.Min(perChunk, elements - start));
            visit(chunk.bytes, start * elementSize);
        }
    }

    /// <summary>Reads tensors by name into a dictionary; if one read fails, those already read are disposed.</summary>
    public static Dictionary<string, Tensor> ReadEach(IEnumerable<string> names, Func<string, Tensor> read)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var name in names)
            {
                result[name] = read(name);
            }
            return result;
        }
        catch
        {
            foreach (var tensor in result.Values)
            {
                tensor.Dispose();
            }
            throw;
        }
    }
}
