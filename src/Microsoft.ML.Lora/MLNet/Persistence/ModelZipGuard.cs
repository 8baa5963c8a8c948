using System.IO.Compression;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// Checks a model zip's central directory before ML.NET or this library reads any entry: ML.NET extracts entries
/// to a temporary folder under their stored names, so a name that climbs out of it, or an entry that inflates to
/// gigabytes, must be refused first. Entries are then read only by the names this library writes.
/// </summary>
public static class ModelZipGuard
{
    /// <summary>Refuses the zip at <paramref name="path"/> if any entry is unsafe.</summary>
    /// <exception cref="UnsafeModelZipException">An entry's name or size is refused.</exception>
    /// <exception cref="InvalidDataException">The file is not a zip.</exception>
    public static void Check(string path, ModelZipLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        limits ??= ModelZipLimits.Default;
        ZipArchive archive;
        try
        {
            archive = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is not a zip file ({e.Message}).", e);
        }
        using (archive)
        {
            long total = 0;
            foreach (var entry in archive.Entries)
            {
                CheckName(path, entry.FullName);
                CheckSize(path, entry, limits);
                total += entry.Length;
                if (total > limits.MaxTotalBytes)
                {
                    throw new UnsafeModelZipException(path, entry.FullName,
                        $"the entries' uncompressed sizes add up to more than {limits.MaxTotalBytes:N0} bytes ({nameof(ModelZipLimits.MaxTotalBytes)})");
                }
            }
        }
    }

    private static void CheckName(string path, string name)
    {
        var normalized = name.Replace('\\', '/');
        if (normalized.StartsWith('/') || (normalized.Length >= 2 && normalized[1] == ':') || normalized.Contains('\0'))
        {
            throw new UnsafeModelZipException(path, name, "its name is an absolute path");
        }
        if (normalized.Split('/').Any(segment => segment == ".."))
        {
            throw new UnsafeModelZipException(path, name, "its name climbs out of the archive ('..')");
        }
    }

    private static void CheckSize(string path, ZipArchiveEntry entry, ModelZipLimits limits)
    {
        if (entry.Length > limits.MaxEntryBytes)
        {
            throw new UnsafeModelZipException(path, entry.FullName,
                $"it inflates to {entry.Length:N0} bytes, more than the limit of {limits.MaxEntryBytes:N0} ({nameof(ModelZipLimits.MaxEntryBytes)})");
        }
        if (entry.Length > limits.RatioCheckedAbove && entry.Length > limits.MaxCompressionRatio * Math.Max(1, entry.CompressedLength))
        {
            throw new UnsafeModelZipException(path, entry.FullName,
                $"it inflates {entry.Length:N0} bytes from {entry.CompressedLength:N0} (ratio over {limits.MaxCompressionRatio}:1, {nameof(ModelZipLimits.MaxCompressionRatio)}): a zip bomb");
        }
    }
}
