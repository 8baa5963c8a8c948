using System.Runtime.InteropServices;
using Microsoft.ML.Lora.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Performance;

public class MklCpuDispatchTests
{
    [Fact]
    public void MklInsideLibtorchTakesItsOptimisedKernels()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64
            || Environment.GetEnvironmentVariable(MklCpuDispatch.Switch) == "0")
        {
            Assert.False(MklCpuDispatch.Applied);
            return;
        }
        // The build puts the library beside the assembly; the runtime settings load it globally at first use.
        LoraRuntime.Start();
        var beside = Path.Combine(Path.GetDirectoryName(typeof(MklCpuDispatch).Assembly.Location)!, MklCpuDispatch.LibraryFileName);
        Assert.True(File.Exists(beside), $"{beside} was not built (g++ is installed by scripts/prerequisites.sh)");
        Assert.True(MklCpuDispatch.Applied, "the dispatch library was not loaded");

        // MKL's own detection: 0 means generic kernels, which it picks on every non-Intel CPU unless told otherwise.
        using var warm = ones(8, 8).mm(ones(8, 8));
        var libtorch = NativeLibrary.Load("libtorch_cpu.so");
        var detect = Marshal.GetDelegateForFunctionPointer<CpuDetect>(NativeLibrary.GetExport(libtorch, "mkl_serv_cpu_detect"));
        Assert.True(detect() > 0, $"MKL reports its generic code path ({detect()})");
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CpuDetect();
}
