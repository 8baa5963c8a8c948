namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// A model zip refused before anything in it is read: an entry whose name leaves the archive (<c>../</c>, an
/// absolute path, a drive letter), or whose size or compression ratio exceeds <see cref="ModelZipLimits"/> (a zip bomb).
/// </summary>
public sealed class UnsafeModelZipException : IOException
{
    /// <summary>Creates the exception for one entry of one zip.</summary>
    public UnsafeModelZipException(string zipPath, string entryName, string reason)
        : base($"Model zip '{zipPath}': entry '{entryName}' is refused: {reason}.")
    {
        ZipPath = zipPath;
        EntryName = entryName;
    }

    /// <summary>The zip's path.</summary>
    public string ZipPath { get; }

    /// <summary>The refused entry's name as stored in the zip.</summary>
    public string EntryName { get; }
}
