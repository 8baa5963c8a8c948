namespace BuildTools;

/// <summary>
/// Makes every libLibTorchSharp.so below an output folder load on a libstdc++ without GLIBCXX_3.4.32: puts the shim
/// library beside it (unless the package's native assets already did) and replaces the library with a patched copy
/// (see <see cref="LibTorchSharpPatcher"/>). The file in the output folder is replaced by a new file, never written in
/// place, so a hard link into the NuGet cache can never be modified. A library it cannot patch gets a warning (code
/// MLLORA001): the build goes on, and Microsoft.ML.Lora's first use then explains the load failure.
/// </summary>
internal static class TorchSharpLoadFix
{
    public const string LibraryFileName = "libLibTorchSharp.so";
    public const string ShimFileName = "libtorchsharp_glibcxx_shim.so";

    public static int Run(string outputDir, string shim)
    {
        var libraries = Directory.Exists(outputDir)
            ? Directory.GetFiles(outputDir, LibraryFileName, SearchOption.AllDirectories)
            : [];
        if (libraries.Length == 0)
        {
            return 0;
        }
        if (!File.Exists(shim))
        {
            Console.WriteLine($"warning MLLORA001: {shim} is missing, so {LibraryFileName} is left as TorchSharp ships it; it needs {LibTorchSharpPatcher.Version} (libstdc++ of GCC 13 or later).");
            return 0;
        }
        foreach (var library in libraries)
        {
            NativeTools.CopyIfDifferent(shim, Path.Combine(Path.GetDirectoryName(library)!, ShimFileName));
            var bytes = File.ReadAllBytes(library);
            try
            {
                if (LibTorchSharpPatcher.IsPatched(bytes, ShimFileName))
                {
                    continue;
                }
                var done = LibTorchSharpPatcher.Patch(bytes, ShimFileName);
                var work = $"{library}.{Environment.ProcessId}.work";
                File.WriteAllBytes(work, bytes);
                File.Move(work, library, overwrite: true);
                Console.WriteLine($"patched {library}: {done}");
            }
            catch (InvalidDataException e)
            {
                Console.WriteLine($"warning MLLORA001: {library} was not patched to load without {LibTorchSharpPatcher.Version}: {e.Message}. It loads only where libstdc++ is from GCC 13 or later.");
            }
        }
        return 0;
    }
}
