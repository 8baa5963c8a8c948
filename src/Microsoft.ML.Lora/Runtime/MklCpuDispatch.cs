using System.Runtime.InteropServices;

namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// The Intel MKL built into libtorch takes generic kernels on x86-64 CPUs that are not Intel's, whatever instruction
/// sets they have. The build puts a two-function library (build/mkl_cpu_dispatch.cpp) beside this assembly whose
/// definitions answer MKL's vendor question with "Intel"; MKL then dispatches on the CPU's features as it does on
/// Intel processors (docs/performance.md has the measurements). It must be loaded with RTLD_GLOBAL before libtorch,
/// so that libtorch's calls resolve to it: <see cref="LoraRuntime"/> does so at the library's first use of TorchSharp.
/// Where libtorch was loaded first (user code that called TorchSharp before this library), MKL keeps its own choice.
/// </summary>
internal static partial class MklCpuDispatch
{
    /// <summary>The library's file name (beside this assembly in this repository's builds, under runtimes/linux-x64/native/ from the package).</summary>
    public const string LibraryFileName = "libmllora_mkl_cpu_dispatch.so";

    /// <summary>The environment variable that overrides <see cref="LoraRuntimeSettings.MklVendorDispatch"/> (0 or 1).</summary>
    public const string Switch = "LORA_MKL_CPU_DISPATCH";

    private const int LoadNow = 0x2, LoadGlobal = 0x100;   // RTLD_NOW | RTLD_GLOBAL

    /// <summary>Whether the library was loaded into the global symbol scope.</summary>
    public static bool Applied { get; private set; }

    /// <summary>Loads the library unless turned off (the environment variable wins over <paramref name="wanted"/>); true when loaded.</summary>
    internal static bool Apply(bool wanted)
    {
        var overridden = Environment.GetEnvironmentVariable(Switch);
        if (overridden is "0" || overridden is not "1" && !wanted
            || !OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return false;
        }
        var path = NativeLibraryFiles.Find(LibraryFileName);
        if (path is null)
        {
            return false;
        }
        try
        {
            Applied = OpenGlobal(path, LoadNow | LoadGlobal) != IntPtr.Zero;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: MKL keeps its own choice.
        }
        return Applied;
    }

    [LibraryImport("libc", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr OpenGlobal(string path, int flags);
}
