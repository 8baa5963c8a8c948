using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// Makes libtorch's OpenMP worker threads sleep instead of spinning while they wait for work, unless the user
/// chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set). Spinning threads burn the cores other threads
/// need: on a machine with more runnable threads than cores, a 2-thread training step measured 3.5× slower
/// spinning than sleeping (docs/performance.md). libgomp reads the variable once, when libtorch is loaded, so it
/// is set when this assembly loads — before any of its code can touch TorchSharp.
/// </summary>
internal static partial class OpenMpWaitPolicy
{
    /// <summary>Whether this process set the policy (false when the user had set one, or off Linux).</summary>
    public static bool AppliedByLibrary { get; private set; }

#pragma warning disable CA2255 // A library module initializer is the only point early enough: libgomp reads its environment when libtorch loads.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Apply()
    {
        if (!OperatingSystem.IsLinux()
            || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null
            || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null)
        {
            return;
        }
        try
        {
            // The native environment, not .NET's copy: libgomp reads it with getenv.
            AppliedByLibrary = SetNativeEnvironment("OMP_WAIT_POLICY", "PASSIVE", 0) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: leave the default policy.
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetNativeEnvironment(string name, string value, int overwrite);
}
