namespace Microsoft.ML.Lora.IO;

/// <summary>
/// Writes an output under a temporary name beside its destination and renames it into place, so a process killed
/// at any moment of a save (SIGKILL, power loss after the flush) leaves the old output or the new one, never a
/// truncated one. The temporary sits in the same folder because a rename is atomic only within one file system.
/// </summary>
public static class AtomicOutput
{
    private const string PartialSuffix = ".partial", OldSuffix = ".old";

    /// <summary>
    /// Runs <paramref name="write"/> on a temporary path beside <paramref name="path"/>, flushes it to disk and
    /// renames it over <paramref name="path"/> (rename(2) replaces the old file in one step).
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="write">Writes the complete file at the path it is given.</param>
    public static void WriteFile(string path, Action<string> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = TemporaryBeside(full, PartialSuffix);
        try
        {
            write(temp);
            FlushToDisk(temp);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, byte[] bytes) => WriteFile(path, temp => File.WriteAllBytes(temp, bytes));

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) => WriteFile(path, temp => File.WriteAllText(temp, text));

    /// <summary>
    /// Runs <paramref name="write"/> on a fresh temporary folder beside <paramref name="folder"/>, then puts it in
    /// place: with no folder there, one rename; with an existing one, the old folder is renamed aside, the new one
    /// renamed in, the old folder's files the new one lacks moved across (an existing folder may hold the user's
    /// other files), and the old folder deleted. A kill between the two renames leaves the old folder complete
    /// under <c>.NAME.*.old</c> (see docs/reliability.md).
    /// </summary>
    /// <param name="folder">The folder to write.</param>
    /// <param name="write">Writes every file of the output into the (empty, existing) folder it is given.</param>
    public static void WriteFolder(string folder, Action<string> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = TemporaryBeside(full, PartialSuffix);
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            foreach (var file in Directory.EnumerateFiles(temp, "*", SearchOption.AllDirectories))
            {
                FlushToDisk(file);
            }
            if (!Directory.Exists(full))
            {
                Directory.Move(temp, full);
                return;
            }
            var old = TemporaryBeside(full, OldSuffix);
            Directory.Move(full, old);
            Directory.Move(temp, full);
            KeepOtherEntries(old, full);
            Directory.Delete(old, recursive: true);
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    private static void KeepOtherEntries(string old, string replacement)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(old))
        {
            var target = Path.Combine(replacement, Path.GetFileName(entry));
            if (File.Exists(target) || Directory.Exists(target))
            {
                continue;
            }
            if (Directory.Exists(entry))
            {
                Directory.Move(entry, target);
            }
            else
            {
                File.Move(entry, target);
            }
        }
    }

    // Hidden (leading dot) and unique per writer, so two processes saving the same output never share a temporary;
    // the extension stays last for writers that choose a format by it.
    private static string TemporaryBeside(string full, string suffix) =>
        Path.Combine(Path.GetDirectoryName(full)!,
            $".{Path.GetFileNameWithoutExtension(full)}.{Environment.ProcessId}-{Guid.NewGuid():N}{suffix}{Path.GetExtension(full)}");

    private static void FlushToDisk(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        stream.Flush(flushToDisk: true);
    }
}
