using System.Runtime.InteropServices;

namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// Bounds how long libtorch's OpenMP worker threads spin while waiting for work before they sleep, unless the user
/// chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set). libgomp's default spins far longer, burning the cores other
/// threads need; sleeping at once costs a wake-up per parallel region instead (docs/performance.md has both
/// measurements). libgomp reads the variable once, when libtorch loads, so <see cref="LoraRuntime"/> sets it at the
/// library's first use of TorchSharp, before that load.
/// </summary>
internal static partial class OpenMpWaitPolicy
{
    /// <summary>Sets GOMP_SPINCOUNT in the native environment; returns the value set, or null when left alone.</summary>
    internal static int? Apply(int? spinCount)
    {
        if (spinCount is null || !OperatingSystem.IsLinux()
            || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null
            || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null)
        {
            return null;
        }
        try
        {
            // The native environment, not .NET's copy: libgomp reads it with getenv.
            return SetNativeEnvironment("GOMP_SPINCOUNT", spinCount.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), 0) == 0
                ? spinCount
                : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;   // Not glibc: leave the default policy.
        }
    }

    /// <summary>The native environment's value (what libgomp sees), or null.</summary>
    internal static string? NativeValue(string name)
    {
        try
        {
            return Marshal.PtrToStringUTF8(GetNativeEnvironment(name));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetNativeEnvironment(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr GetNativeEnvironment(string name);
}
