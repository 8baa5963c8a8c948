using System.CommandLine;

namespace MlLora.Cli.Commands;

/// <summary>
/// Checks an output path before a verb does any work, so a training run is never lost to a path it cannot write
/// at the end: the folder it goes in must accept new files, a file output must not be a folder, and an existing
/// output is replaced only with <c>--overwrite</c>.
/// </summary>
internal static class OutputPaths
{
    public static Option<bool> Overwrite() => new("--overwrite") { Description = "Replace an existing output (default: refuse to)" };

    /// <summary>A file the verb writes (a model zip, a TSV, a safetensors file).</summary>
    public static void CheckFile(Option<string> option, string path, bool overwrite)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new ArgumentException($"{option.Name} '{path}' is an existing folder; give the path of the file to write.");
        }
        if (File.Exists(full) && !overwrite)
        {
            throw new ArgumentException($"{option.Name} '{path}' already exists; pass --overwrite to replace it.");
        }
        RequireWritable(option, path, Path.GetDirectoryName(full)!);
    }

    /// <summary>
    /// A folder the verb writes into. With <paramref name="resumable"/> an existing folder is expected (it holds
    /// what an earlier run left); otherwise one that already holds files needs <paramref name="overwrite"/>.
    /// </summary>
    public static void CheckFolder(Option<string> option, string path, bool overwrite, bool resumable = false)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            throw new ArgumentException($"{option.Name} '{path}' is an existing file; give the path of a folder.");
        }
        if (!resumable && !overwrite && Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            throw new ArgumentException($"{option.Name} '{path}' already holds files; pass --overwrite to write into it (files of the same name are replaced).");
        }
        RequireWritable(option, path, full);
    }

    /// <summary>Creates and deletes a probe file in the nearest existing folder of <paramref name="folder"/>.</summary>
    private static void RequireWritable(Option<string> option, string path, string folder)
    {
        var existing = new DirectoryInfo(folder);
        while (!existing.Exists)
        {
            if (File.Exists(existing.FullName))
            {
                throw new ArgumentException($"{option.Name} '{path}': '{existing.FullName}' is a file, not a folder.");
            }
            existing = existing.Parent ?? throw new ArgumentException($"{option.Name} '{path}': no part of the path exists.");
        }
        var probe = Path.Combine(existing.FullName, $".mllora-write-check-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using var _ = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{option.Name} '{path}': cannot create files in '{existing.FullName}' ({e.Message}).", e);
        }
    }
}
