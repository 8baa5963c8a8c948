namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// Where an application's native files are: beside the assemblies (self-contained or RID-specific builds, and this
/// repository's own builds for the files it adds) or under runtimes/&lt;rid&gt;/native/ (portable builds, where NuGet's
/// native assets land).
/// </summary>
internal static class NativeLibraryFiles
{
    private const string LinuxX64 = "linux-x64";

    /// <summary>The folders searched, in order.</summary>
    public static IEnumerable<string> Folders()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var root in new[] { Path.GetDirectoryName(typeof(NativeLibraryFiles).Assembly.Location), AppContext.BaseDirectory, Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location) })
        {
            if (string.IsNullOrEmpty(root))
            {
                continue;
            }
            foreach (var folder in new[] { root, Path.Combine(root, "runtimes", LinuxX64, "native") })
            {
                if (seen.Add(Path.GetFullPath(folder)))
                {
                    yield return folder;
                }
            }
        }
    }

    /// <summary>The first existing file of that name in <see cref="Folders"/>, or null.</summary>
    public static string? Find(string fileName) =>
        Folders().Select(folder => Path.Combine(folder, fileName)).FirstOrDefault(File.Exists);
}
