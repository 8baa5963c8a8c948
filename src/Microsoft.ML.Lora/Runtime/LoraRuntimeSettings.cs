namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// The process-wide native settings this library applies, once, at its first use of TorchSharp (loading a model,
/// <c>Fit</c>, a benchmark; or <see cref="LoraRuntime.Start"/>) and never merely because the assembly was loaded.
/// They must be in place before libtorch's native libraries load, so change them through
/// <see cref="LoraRuntime.Configure"/> (or <c>MLContext.ConfigureLoraRuntime</c>) before that first use. Each has an
/// environment variable that overrides the value set here; docs/performance.md gives the measurements behind the defaults.
/// </summary>
public sealed record LoraRuntimeSettings
{
    /// <summary>
    /// Loads the MKL vendor-dispatch library (<c>libmllora_mkl_cpu_dispatch.so</c>, globally) so that the MKL inside
    /// libtorch picks its optimised kernels on x86-64 CPUs that are not Intel's. Override: <c>LORA_MKL_CPU_DISPATCH=0|1</c>.
    /// </summary>
    public bool MklVendorDispatch { get; init; } = true;

    /// <summary>
    /// Iterations libtorch's OpenMP workers spin before they sleep (sets <c>GOMP_SPINCOUNT</c> in the native
    /// environment); null keeps libgomp's default. A user's own <c>OMP_WAIT_POLICY</c> or <c>GOMP_SPINCOUNT</c> wins.
    /// </summary>
    public int? OpenMpSpinCount { get; init; } = 10_000;

    /// <summary>Torch intra-op threads; null means the number of cores. Override: <c>LORA_NUM_THREADS</c>.</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>
    /// With gradient checkpointing, lowers glibc's mmap threshold to 1 MiB so that freed temporaries return to the OS.
    /// Override: <c>LORA_LEAN_ALLOCATOR=0</c>; a user's <c>MALLOC_MMAP_THRESHOLD_</c> or glibc.malloc tunable wins.
    /// </summary>
    public bool LeanAllocatorWithCheckpointing { get; init; } = true;

    internal void Validate()
    {
        if (OpenMpSpinCount is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(OpenMpSpinCount), OpenMpSpinCount, "OpenMpSpinCount must be null or ≥ 0.");
        }
        if (IntraOpThreads is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "IntraOpThreads must be null or ≥ 1.");
        }
    }
}
