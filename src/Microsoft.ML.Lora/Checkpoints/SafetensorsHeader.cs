using System.Buffers.Binary;
using System.Text.Json;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// Parses and validates a safetensors header. This is the security boundary of checkpoint loading: every
/// tensor must have a known dtype, a non-negative shape whose byte size equals its offsets' span, and a byte
/// range inside the data section that overlaps no other tensor. Anything else is a
/// <see cref="SafetensorsFormatException"/>, so a hostile or damaged file can never make the reader touch
/// memory outside the file, allocate absurd amounts, or loop.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>Largest header accepted, as in the reference implementation (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Bytes of the little-endian header-length prefix.</summary>
    public const int PrefixBytes = 8;

    private SafetensorsHeader(IReadOnlyList<SafetensorsEntry> entries, IReadOnlyDictionary<string, string> metadata, long dataStart, long dataLength)
    {
        Entries = entries;
        Metadata = metadata;
        DataStart = dataStart;
        DataLength = dataLength;
    }

    /// <summary>Tensors sorted by name (ordinal).</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Offset of the data section from the start of the file.</summary>
    public long DataStart { get; }

    /// <summary>Length of the data section.</summary>
    public long DataLength { get; }

    /// <summary>
    /// Checks the 8-byte prefix of a buffer or file of <paramref name="totalLength"/> bytes and returns the header length.
    /// </summary>
    public static int ReadHeaderLength(string source, ReadOnlySpan<byte> prefix, long totalLength)
    {
        if (totalLength < PrefixBytes || prefix.Length < PrefixBytes)
        {
            throw new SafetensorsFormatException(source, $"the file is truncated: {totalLength} bytes, shorter than the {PrefixBytes}-byte header length");
        }
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (length > MaxHeaderBytes)
        {
            throw new SafetensorsFormatException(source, $"the header length {length} exceeds the {MaxHeaderBytes}-byte limit (not a safetensors file, or a corrupt one)");
        }
        if ((long)length > totalLength - PrefixBytes)
        {
            throw new SafetensorsFormatException(source, $"the header length {length} goes beyond the end of the file ({totalLength} bytes): the file is truncated or not safetensors");
        }
        if (length < 2)
        {
            throw new SafetensorsFormatException(source, $"the header length {length} is too short to hold a JSON object");
        }
        return (int)length;
    }

    /// <summary>Parses and validates the JSON header of a file whose data section has <paramref name="dataLength"/> bytes.</summary>
    public static SafetensorsHeader Parse(string source, ReadOnlyMemory<byte> json, long dataLength)
    {
        var document = SafeJson.Parse(json, problem => new SafetensorsFormatException(source, "the header is " + problem), maxDepth: 8);
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(source, $"the header must be a JSON object, found {document.RootElement.ValueKind}");
            }
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<SafetensorsEntry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw new SafetensorsFormatException(source, $"the header names '{property.Name}' twice");
                }
                if (property.Name == "__metadata__")
                {
                    ReadMetadata(source, property.Value, metadata);
                }
                else
                {
                    entries.Add(ReadEntry(source, property.Name, property.Value, dataLength));
                }
            }
            CheckNoOverlap(source, entries);
            entries.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            return new SafetensorsHeader(entries, metadata, PrefixBytes + json.Length, dataLength);
        }
    }

    private static void ReadMetadata(string source, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(source, "__metadata__ must be an object mapping strings to strings");
        }
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw new SafetensorsFormatException(source, $"__metadata__ value '{item.Name}' must be a string, found {item.Value.ValueKind}");
            }
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static SafetensorsEntry ReadEntry(string source, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new SafetensorsFormatException(source, $"tensor '{name}' must be described by an object with dtype, shape and data_offsets");
        }
        var dtype = value.TryGetProperty("dtype", out var d) && d.ValueKind == JsonValueKind.String
            ? d.GetString()!
            : throw new SafetensorsFormatException(source, $"tensor '{name}' has no dtype string");
        if (!SafetensorsDtype.TryGetScalarType(dtype, out var scalarType))
        {
            throw new SafetensorsFormatException(source, $"tensor '{name}' has unknown or unsupported dtype '{dtype}' (supported: {string.Join(", ", SafetensorsDtype.Names)})");
        }
        var shape = ReadIntegers(source, name, value, "shape");
        var offsets = ReadIntegers(source, name, value, "data_offsets");
        if (offsets.Length != 2)
        {
            throw new SafetensorsFormatException(source, $"tensor '{name}' must have exactly two data_offsets, found {offsets.Length}");
        }
        long begin = offsets[0], end = offsets[1];
        if (begin > end || end > dataLength)
        {
            throw new SafetensorsFormatException(source, $"tensor '{name}' has data_offsets [{begin}, {end}] outside the {dataLength}-byte data section");
        }
        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * SafetensorsDtype.ElementSize(scalarType));
        }
        catch (OverflowException)
        {
            throw new SafetensorsFormatException(source, $"tensor '{name}' has a shape [{string.Join(", ", shape)}] too large to exist");
        }
        if (expected != end - begin)
        {
            throw new SafetensorsFormatException(source,
                $"tensor '{name}' of dtype {dtype} and shape [{string.Join(", ", shape)}] needs {expected} bytes but its data_offsets [{begin}, {end}] span {end - begin}");
        }
        return new SafetensorsEntry(name, dtype, scalarType, shape, begin, end);
    }

    private static long[] ReadIntegers(string source, string name, JsonElement value, string field)
    {
        if (!value.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw new SafetensorsFormatException(source, $"tensor '{name}' has no {field} array");
        }
        var result = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var n) || n < 0)
            {
                throw new SafetensorsFormatException(source, $"tensor '{name}' has a {field} entry that is not a non-negative integer: {item.GetRawText()}");
            }
            result[i++] = n;
        }
        return result;
    }

    private static void CheckNoOverlap(string source, List<SafetensorsEntry> entries)
    {
        // Empty tensors occupy no bytes, so they cannot overlap anything.
        var byStart = entries.Where(e => e.ByteLength > 0).OrderBy(e => e.Begin).ToList();
        for (int i = 1; i < byStart.Count; i++)
        {
            if (byStart[i].Begin < byStart[i - 1].End)
            {
                throw new SafetensorsFormatException(source,
                    $"tensors '{byStart[i - 1].Name}' [{byStart[i - 1].Begin}, {byStart[i - 1].End}] and '{byStart[i].Name}' [{byStart[i].Begin}, {byStart[i].End}] overlap");
            }
        }
    }
}
