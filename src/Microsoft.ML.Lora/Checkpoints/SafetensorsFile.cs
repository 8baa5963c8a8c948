using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// A validated safetensors file, open for reading tensors by name. Files are memory-mapped: tensor data goes
/// from the mapping straight into TorchSharp's native storage, never through managed buffers. Opening
/// validates the whole header (see <see cref="SafetensorsFormatException"/>); reading never goes outside it.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    private readonly SafetensorsByteSource _source;
    private readonly SafetensorsHeader _header;
    private readonly Dictionary<string, SafetensorsEntry> _byName;

    private SafetensorsFile(string path, SafetensorsByteSource source, SafetensorsHeader header)
    {
        FilePath = path;
        _source = source;
        _header = header;
        _byName = header.Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    /// <summary>The file's path ("&lt;memory&gt;" or a caller-given name for in-memory images).</summary>
    public string FilePath { get; }

    /// <summary>The tensors, sorted by name.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries => _header.Entries;

    /// <summary>The header's <c>__metadata__</c> (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    /// <summary>Opens and validates a file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="SafetensorsFormatException">The file is not a well-formed safetensors file.</exception>
    public static SafetensorsFile Open(string path)
    {
        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"Safetensors file '{fullPath}' does not exist.", fullPath);
        }
        SafetensorsHeader header;
        long length;
        using (var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1))
        {
            length = stream.Length;
            Span<byte> prefix = stackalloc byte[SafetensorsHeader.PrefixBytes];
            int got = stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
            int headerLength = SafetensorsHeader.ReadHeaderLength(fullPath, prefix[..got], length);
            var json = new byte[headerLength];
            stream.ReadExactly(json);
            header = SafetensorsHeader.Parse(fullPath, json, length - SafetensorsHeader.PrefixBytes - headerLength);
        }
        // A file with no tensor data cannot be mapped (zero capacity) and needs no mapping.
        SafetensorsByteSource source = header.DataLength > 0 ? new MappedFileByteSource(fullPath, length) : new ArrayByteSource([]);
        return new SafetensorsFile(fullPath, source, header);
    }

    /// <summary>Validates and opens a safetensors image held in memory. The array is used, not copied.</summary>
    /// <param name="bytes">The complete file contents.</param>
    /// <param name="name">How errors name the image.</param>
    public static SafetensorsFile Load(byte[] bytes, string name = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        int headerLength = SafetensorsHeader.ReadHeaderLength(name, bytes, bytes.LongLength);
        var json = bytes.AsMemory(SafetensorsHeader.PrefixBytes, headerLength);
        var header = SafetensorsHeader.Parse(name, json, bytes.LongLength - SafetensorsHeader.PrefixBytes - headerLength);
        return new SafetensorsFile(name, new ArrayByteSource(bytes), header);
    }

    /// <summary>Reads a whole stream (for example a zip entry) and opens it as a safetensors image.</summary>
    public static SafetensorsFile Load(Stream stream, string name = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Load(buffer.ToArray(), name);
    }

    /// <summary>Whether the file holds a tensor of this name.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The header entry of a tensor.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public SafetensorsEntry Entry(string name) =>
        _byName.TryGetValue(name, out var entry)
            ? entry
            : throw new KeyNotFoundException($"{FilePath}: no tensor named '{name}' (the file holds {_byName.Count} tensors).");

    /// <summary>
    /// Reads a tensor, converted to <paramref name="dtype"/> (default: as stored) and placed on
    /// <paramref name="device"/> (default: CPU). The caller owns (disposes) the result.
    /// </summary>
    public Tensor ReadTensor(string name, ScalarType? dtype = null, Device? device = null)
    {
        var entry = Entry(name);
        var result = empty(entry.ShapeArray, entry.ScalarType);
        try
        {
            Fill(entry, result);
            if ((dtype ?? entry.ScalarType) == entry.ScalarType && (device is null || device.type == DeviceType.CPU))
            {
                return result;
            }
            using (result)
            {
                return result.to(dtype ?? entry.ScalarType, device ?? CPU);
            }
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies a tensor into an existing tensor of the same shape (any dtype, any device), the way weights are
    /// loaded into a model's parameters. A contiguous CPU destination of the stored dtype is filled directly
    /// from the file, with no intermediate tensor.
    /// </summary>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public void ReadInto(string name, Tensor destination)
    {
        var entry = Entry(name);
        if (!entry.Shape.SequenceEqual(destination.shape))
        {
            throw new ArgumentException(
                $"{FilePath}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}] but the destination has [{string.Join(", ", destination.shape)}].",
                nameof(destination));
        }
        using var _ = no_grad();
        if (destination.dtype == entry.ScalarType && destination.device_type == DeviceType.CPU && destination.is_contiguous())
        {
            Fill(entry, destination);
            return;
        }
        using var staged = ReadTensor(name);
        destination.copy_(staged);
    }

    /// <summary>Reads every tensor (see <see cref="ReadTensor"/>); the caller owns the tensors.</summary>
    public Dictionary<string, Tensor> ReadAll(ScalarType? dtype = null, Device? device = null) =>
        TensorMemory.ReadEach(Entries.Select(e => e.Name), name => ReadTensor(name, dtype, device));

    /// <inheritdoc />
    public void Dispose() => _source.Dispose();

    private void Fill(SafetensorsEntry entry, Tensor destination)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Safetensors data is little-endian; big-endian machines are not supported.");
        }
        long start = _header.DataStart + entry.Begin;
        TensorMemory.VisitChunks(destination, (chunk, offset) => _source.CopyTo(start + offset, chunk));
    }
}
