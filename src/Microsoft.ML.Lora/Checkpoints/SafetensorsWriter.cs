using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// Writes tensors in the safetensors format, deterministically: the same tensors always give the same bytes.
/// As in the reference implementation, tensors are laid out by element size (largest first) then name, so
/// every tensor starts aligned to its element size, and the header is padded with spaces so the data
/// section starts at a multiple of 8 bytes. The header lists <c>__metadata__</c> first, then the tensors
/// in data order.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Writes a file (atomically: a temporary file is renamed over <paramref name="path"/>).</summary>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="tensors">Tensors by name; any device, any layout; they are not modified or disposed.</param>
    /// <param name="metadata">Optional <c>__metadata__</c> strings (HF writes <c>{"format": "pt"}</c>).</param>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        var fullPath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        var temporary = fullPath + ".partial";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                Write(stream, tensors, metadata);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>The complete file as bytes (for storing inside another container, such as an ML.NET model zip).</summary>
    public static byte[] ToBytes(IEnumerable<KeyValuePair<string, Tensor>> tensors, IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        using var stream = new MemoryStream();
        Write(stream, tensors, metadata);
        return stream.ToArray();
    }

    /// <summary>Writes the file to a stream, which is left open.</summary>
    public static void Write(Stream stream, IEnumerable<KeyValuePair<string, Tensor>> tensors, IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var ordered = DataOrder(tensors);
        stream.Write(Header(ordered, metadata));
        foreach (var (_, tensor) in ordered)
        {
            using var scope = NewDisposeScope();
            var staged = tensor.detach().cpu().contiguous();
            TensorMemory.VisitChunks(staged, (chunk, _) => stream.Write(chunk));
        }
    }

    /// <summary>The order tensors are laid out in: element size descending, then name (ordinal).</summary>
    internal static List<KeyValuePair<string, Tensor>> DataOrder(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var duplicate = list.GroupBy(kv => kv.Key, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Tensor name '{duplicate.Key}' appears more than once.", nameof(tensors));
        }
        return [.. list
            .OrderByDescending(kv => SafetensorsDtype.ElementSize(kv.Value.dtype))
            .ThenBy(kv => kv.Key, StringComparer.Ordinal)];
    }

    /// <summary>The 8-byte length prefix and the space-padded JSON header.</summary>
    private static byte[] Header(List<KeyValuePair<string, Tensor>> ordered, IEnumerable<KeyValuePair<string, string>>? metadata)
    {
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            var meta = metadata?.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
            if (meta is { Count: > 0 })
            {
                writer.WriteStartObject("__metadata__");
                foreach (var (key, value) in meta)
                {
                    writer.WriteString(key, value);
                }
                writer.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in ordered)
            {
                long bytes = tensor.numel() * SafetensorsDtype.ElementSize(tensor.dtype);
                writer.WriteStartObject(name);
                writer.WriteString("dtype", SafetensorsDtype.NameOf(tensor.dtype));
                writer.WriteStartArray("shape");
                foreach (var d in tensor.shape)
                {
                    writer.WriteNumberValue(d);
                }
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(offset + bytes);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset += bytes;
            }
            writer.WriteEndObject();
        }
        int jsonLength = (int)json.Length;
        int padded = (jsonLength + 7) / 8 * 8;
        var header = new byte[SafetensorsHeader.PrefixBytes + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        json.GetBuffer().AsSpan(0, jsonLength).CopyTo(header.AsSpan(8));
        header.AsSpan(8 + jsonLength).Fill((byte)' ');
        return header;
    }
}
