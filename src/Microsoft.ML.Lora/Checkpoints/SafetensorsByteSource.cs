using System.IO.MemoryMappedFiles;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>Where a safetensors file's bytes live: a memory-mapped file or an in-memory buffer.</summary>
internal abstract class SafetensorsByteSource : IDisposable
{
    /// <summary>Total length in bytes.</summary>
    public abstract long Length { get; }

    /// <summary>Copies <paramref name="destination"/>.Length bytes starting at <paramref name="offset"/>.</summary>
    public abstract void CopyTo(long offset, Span<byte> destination);

    /// <inheritdoc />
    public abstract void Dispose();
}

/// <summary>
/// A file read through a memory mapping. Each copy maps only a window of at most <see cref="WindowBytes"/> and
/// unmaps it before the next, so loading a multi-GB checkpoint never holds more than one window of the file
/// mapped (resident) at once, and no managed buffer ever holds tensor data.
/// </summary>
internal sealed class MappedFileByteSource : SafetensorsByteSource
{
    /// <summary>Largest range mapped at once (64 MiB).</summary>
    public const int WindowBytes = 64 << 20;

    private readonly MemoryMappedFile _file;

    public MappedFileByteSource(string path, long length)
    {
        Length = length;
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
    }

    public override long Length { get; }

    public override void CopyTo(long offset, Span<byte> destination)
    {
        for (int done = 0; done < destination.Length; done += WindowBytes)
        {
            CopyWindow(offset + done, destination.Slice(done, Math.Min(WindowBytes, destination.Length - done)));
        }
    }

    private unsafe void CopyWindow(long offset, Span<byte> destination)
    {
        using var view = _file.CreateViewAccessor(offset, destination.Length, MemoryMappedFileAccess.Read);
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        try
        {
            // The mapping begins at a page boundary; PointerOffset is where the requested offset lies within it.
            new ReadOnlySpan<byte>(start + view.PointerOffset, destination.Length).CopyTo(destination);
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    public override void Dispose() => _file.Dispose();
}

/// <summary>A safetensors image held in memory (for example an adapter stored inside an ML.NET model zip).</summary>
internal sealed class ArrayByteSource(byte[] bytes) : SafetensorsByteSource
{
    public override long Length => bytes.LongLength;

    public override void CopyTo(long offset, Span<byte> destination) =>
        bytes.AsSpan(checked((int)offset), destination.Length).CopyTo(destination);

    public override void Dispose()
    {
    }
}
