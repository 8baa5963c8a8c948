using System.Diagnostics;

namespace BuildTools;

/// <summary>Compiles the small native helpers with g++ and places them in output folders.</summary>
internal static class NativeTools
{
    /// <summary>
    /// Compiles <paramref name="source"/> into the shared library <paramref name="output"/> unless it is newer than the
    /// source. Projects building in parallel each compile to their own temporary file and rename.
    /// </summary>
    public static int Compile(string source, string output)
    {
        if (File.Exists(output) && File.GetLastWriteTimeUtc(output) >= File.GetLastWriteTimeUtc(source))
        {
            return 0;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        var temp = $"{output}.{Environment.ProcessId}.tmp";
        try
        {
            var info = new ProcessStartInfo("g++", ["-shared", "-fPIC", "-O2", "-o", temp, source]) { UseShellExecute = false, RedirectStandardError = true };
            using var process = Process.Start(info)!;
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                Console.Error.WriteLine($"error MLLORA002: g++ failed to compile {source}: {stderr}");
                return 1;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"error MLLORA002: 'g++' was not found; it compiles {Path.GetFileName(source)} for TorchSharp's native library. On Debian/Ubuntu: apt-get install -y g++");
            return 1;
        }
        File.Move(temp, output, overwrite: true);
        return 0;
    }

    /// <summary>Copies a file unless the target already holds the same bytes (a new file, never written through a link).</summary>
    public static void CopyIfDifferent(string source, string target)
    {
        if (File.Exists(target) && File.ReadAllBytes(target).AsSpan().SequenceEqual(File.ReadAllBytes(source)))
        {
            return;
        }
        var temp = $"{target}.{Environment.ProcessId}.tmp";
        File.Copy(source, temp, overwrite: true);
        File.Move(temp, target, overwrite: true);
    }
}
