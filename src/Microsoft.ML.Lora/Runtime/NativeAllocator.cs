using System.Runtime.InteropServices;

namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// glibc's malloc keeps freed memory for reuse and raises its mmap threshold to the largest block freed so far, so
/// libtorch's many large, differently sized temporaries end up in a heap that grows well past what is live. Serving
/// every block of 1 MiB or more with its own mapping returns it to the OS when freed, at the price of page faults on
/// each such allocation (docs/performance.md has the measurements). Gradient checkpointing switches it on, since
/// memory is then the point; <see cref="LoraRuntimeSettings.LeanAllocatorWithCheckpointing"/>, LORA_LEAN_ALLOCATOR=0,
/// or a user's own MALLOC_MMAP_THRESHOLD_ or glibc.malloc tunable leaves malloc alone. The setting is process-wide
/// and stays for the life of the process.
/// </summary>
internal static partial class NativeAllocator
{
    private const int MmapThresholdOption = -3;   // M_MMAP_THRESHOLD in malloc.h
    private const int LeanThreshold = 1 << 20;
    private static int _applied;

    /// <summary>False when <see cref="LoraRuntimeSettings.LeanAllocatorWithCheckpointing"/> turned it off.</summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>Whether this process lowered the threshold.</summary>
    public static bool ReturnsFreedMemory => Volatile.Read(ref _applied) == 2;

    /// <summary>Lowers glibc's mmap threshold to 1 MiB once; false where it does not apply (not glibc, or the user chose).</summary>
    public static bool PreferReturningFreedMemory()
    {
        if (Interlocked.CompareExchange(ref _applied, 1, 0) != 0)
        {
            return ReturnsFreedMemory;
        }
        if (!Enabled || !OperatingSystem.IsLinux()
            || Environment.GetEnvironmentVariable("LORA_LEAN_ALLOCATOR") == "0"
            || Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null
            || Environment.GetEnvironmentVariable("GLIBC_TUNABLES") is { } tunables && tunables.Contains("glibc.malloc.", StringComparison.Ordinal))
        {
            return false;
        }
        try
        {
            if (SetMallocOption(MmapThresholdOption, LeanThreshold) == 1)
            {
                Volatile.Write(ref _applied, 2);
                LoraRuntime.Record($"mallopt(M_MMAP_THRESHOLD, {LeanThreshold})");
                return true;
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc.
        }
        return false;
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int SetMallocOption(int option, int value);
}
