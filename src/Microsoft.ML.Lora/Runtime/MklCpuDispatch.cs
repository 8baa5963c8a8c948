using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// The Intel MKL built into libtorch takes generic kernels on x86-64 CPUs that are not Intel's, whatever instruction
/// sets they have. The build puts a two-function library (build/mkl_cpu_dispatch.cpp) beside this assembly whose
/// definitions answer MKL's vendor question with "Intel"; MKL then dispatches on the CPU's features as it does on
/// Intel processors. Measured on this project's AMD EPYC reference machine: fp32 GEMM 200 → 227 GFLOP/s, a LoRA fp32
/// training step 4.13 → 3.38 s, batch-1 fp32 decoding 17.9 → 36.0 tokens/s (docs/performance.md). It is loaded with
/// RTLD_GLOBAL when this assembly loads, before anything here touches TorchSharp, so that libtorch's calls resolve to
/// it; set LORA_MKL_CPU_DISPATCH=0 to keep MKL's own choice. (Were TorchSharp already in use before this assembly
/// loaded, MKL may have asked already, and nothing changes.)
/// </summary>
internal static partial class MklCpuDispatch
{
    /// <summary>The library's file name (beside this assembly in this repository's builds, under runtimes/linux-x64/native/ from the package).</summary>
    public const string LibraryFileName = "libmllora_mkl_cpu_dispatch.so";

    /// <summary>The environment variable that turns the dispatch change off when set to 0.</summary>
    public const string Switch = "LORA_MKL_CPU_DISPATCH";

    private const int LoadNow = 0x2, LoadGlobal = 0x100;   // RTLD_NOW | RTLD_GLOBAL

    /// <summary>Whether the library was loaded into the global symbol scope.</summary>
    public static bool Applied { get; private set; }

#pragma warning disable CA2255 // A library module initializer is the only point early enough: libtorch must find the definitions when it loads.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Apply()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64
            || Environment.GetEnvironmentVariable(Switch) == "0")
        {
            return;
        }
        var path = NativeLibraryFiles.Find(LibraryFileName);
        if (path is null)
        {
            return;
        }
        try
        {
            Applied = OpenGlobal(path, LoadNow | LoadGlobal) != IntPtr.Zero;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: MKL keeps its own choice.
        }
    }

    [LibraryImport("libc", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr OpenGlobal(string path, int flags);
}
