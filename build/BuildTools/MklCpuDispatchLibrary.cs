namespace BuildTools;

/// <summary>
/// Compiles build/mkl_cpu_dispatch.cpp once into a cache folder and copies it into an output folder that holds
/// TorchSharp's native library (see src/Microsoft.ML.Lora/Runtime/MklCpuDispatch.cs for what it does). Only a
/// speed-up: without a C++ compiler it prints a note and succeeds, and the library is simply not used.
/// </summary>
internal static class MklCpuDispatchLibrary
{
    public const string FileName = "libmllora_mkl_cpu_dispatch.so";

    public static int Run(string outputDir, string source, string cacheDir)
    {
        if (!Directory.Exists(outputDir) || Directory.GetFiles(outputDir, "libLibTorchSharp.so", SearchOption.AllDirectories).Length == 0)
        {
            return 0;
        }
        var built = Path.Combine(cacheDir, FileName);
        if (!File.Exists(built) || File.GetLastWriteTimeUtc(built) < File.GetLastWriteTimeUtc(source))
        {
            Directory.CreateDirectory(cacheDir);
            var temp = $"{built}.{Environment.ProcessId}.tmp";   // projects building in parallel each compile their own
            if (!NativeTools.Run("g++", $"-shared -fPIC -O2 -o \"{temp}\" \"{source}\"", out var error))
            {
                Console.WriteLine($"note: {FileName} not built ({error}); MKL keeps its generic kernels on non-Intel CPUs.");
                return 0;
            }
            File.Move(temp, built, overwrite: true);
        }
        var target = Path.Combine(outputDir, FileName);
        if (!File.Exists(target) || new FileInfo(target).Length != new FileInfo(built).Length)
        {
            File.Copy(built, target, overwrite: true);
        }
        return 0;
    }
}
