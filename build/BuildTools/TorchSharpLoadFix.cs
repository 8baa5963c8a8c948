namespace BuildTools;

/// <summary>
/// Finds every libLibTorchSharp.so below an output folder and, only when the system libstdc++ lacks
/// GLIBCXX_3.4.32, replaces it with a patched copy that loads here: the shim library (compiled once
/// into a cache folder) sits next to it and is added as DT_NEEDED, then <see cref="LibTorchSharpPatcher"/>
/// relaxes the version need. The file in the output folder is replaced by a new file (never written in
/// place), so a hard link into the NuGet cache could never be modified.
/// </summary>
internal static class TorchSharpLoadFix
{
    public const string ShimFileName = "libtorchsharp_glibcxx_shim.so";
    private const string Install = "On Debian/Ubuntu: apt-get install -y g++ patchelf";

    public static int Run(string outputDir, string shimSource, string cacheDir)
    {
        var libraries = Directory.Exists(outputDir)
            ? Directory.GetFiles(outputDir, "libLibTorchSharp.so", SearchOption.AllDirectories)
            : [];
        if (libraries.Length == 0 || !GlibcxxProbe.NeedsShim())
        {
            return 0;
        }
        var shim = Path.Combine(cacheDir, ShimFileName);
        if (!File.Exists(shim) && !CompileShim(shimSource, shim))
        {
            return 1;
        }
        foreach (var library in libraries)
        {
            var shimBeside = Path.Combine(Path.GetDirectoryName(library)!, ShimFileName);
            if (!File.Exists(shimBeside) || new FileInfo(shimBeside).Length != new FileInfo(shim).Length)
            {
                File.Copy(shim, shimBeside, overwrite: true);
            }
            if (AlreadyPatched(library))
            {
                continue;
            }
            var work = library + ".work";
            File.Copy(library, work, overwrite: true);
            if (!RunTool("patchelf", $"--add-needed {ShimFileName} \"{work}\"", "patchelf is needed to patch TorchSharp's native library for this libstdc++."))
            {
                File.Delete(work);
                return 1;
            }
            if (LibTorchSharpPatcher.Run(work, ShimFileName) != 0)
            {
                File.Delete(work);
                return 1;
            }
            File.Move(work, library, overwrite: true);
        }
        return 0;
    }

    private static bool AlreadyPatched(string library) => LibTorchSharpPatcher.IsPatched(File.ReadAllBytes(library), ShimFileName);

    private static bool CompileShim(string source, string output)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var temp = output + ".tmp";
        if (!RunTool("g++", $"-shared -fPIC -O2 -o \"{temp}\" \"{source}\"", "A C++ compiler is needed to build the libstdc++ compatibility shim for TorchSharp."))
        {
            return false;
        }
        File.Move(temp, output, overwrite: true);
        return true;
    }

    private static bool RunTool(string tool, string arguments, string why)
    {
        if (NativeTools.Run(tool, arguments, out var error))
        {
            return true;
        }
        Console.Error.WriteLine(NativeTools.IsMissing(error)
            ? $"error: '{tool}' was not found. The system libstdc++ lacks GLIBCXX_3.4.32, which TorchSharp 0.107 needs. {why} {Install}"
            : $"error: {error}");
        return false;
    }
}
