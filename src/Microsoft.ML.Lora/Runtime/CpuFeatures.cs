using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// The CPU's instruction-set features that decide which precision trains fast: libtorch has fast bf16 matrix
/// kernels only where the CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere its bf16 path is many times
/// slower than fp32 (docs/reliability.md). Names follow Linux's /proc/cpuinfo flags.
/// </summary>
public sealed class CpuFeatures
{
    /// <summary>The features <see cref="Reported"/> lists, in this order, when present.</summary>
    public static readonly IReadOnlyList<string> Relevant = ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"];

    private static readonly Lazy<CpuFeatures> Detected = new(Detect);

    /// <summary>A feature set, e.g. <c>new CpuFeatures(["avx2", "avx512f"])</c> (tests inject one).</summary>
    public CpuFeatures(IEnumerable<string> flags)
    {
        ArgumentNullException.ThrowIfNull(flags);
        Flags = new HashSet<string>(flags, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>This machine's features (read once per process).</summary>
    public static CpuFeatures Current => Detected.Value;

    /// <summary>Every flag of the set.</summary>
    public IReadOnlySet<string> Flags { get; }

    /// <summary>Whether the CPU multiplies bf16 matrices natively (AVX512-BF16 or AMX-BF16).</summary>
    public bool HasNativeBFloat16 => Flags.Contains("avx512_bf16") || Flags.Contains("amx_bf16");

    /// <summary>The <see cref="Relevant"/> features present, e.g. ["avx2","fma","avx512f","avx512_bf16"] (bench JSON's cpu_features).</summary>
    public IReadOnlyList<string> Reported => [.. Relevant.Where(Flags.Contains)];

    /// <summary>
    /// Linux: the "flags" line of /proc/cpuinfo. Elsewhere: what .NET's intrinsics report (AVX512-BF16 and AMX
    /// are not among them, so such CPUs count as without native bf16 there).
    /// </summary>
    private static CpuFeatures Detect()
    {
        if (OperatingSystem.IsLinux() && ReadCpuInfoFlags("/proc/cpuinfo") is { } flags)
        {
            return new CpuFeatures(flags);
        }
        var found = new List<string>();
        if (RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86)
        {
            if (Avx2.IsSupported) found.Add("avx2");
            if (Fma.IsSupported) found.Add("fma");
            if (Avx512F.IsSupported) found.Add("avx512f");
        }
        return new CpuFeatures(found);
    }

    /// <summary>The flags of the first processor in a /proc/cpuinfo-format file, or null when it has none.</summary>
    public static IReadOnlyList<string>? ReadCpuInfoFlags(string path)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && line[..colon].Trim() == "flags")
                {
                    return line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No readable cpuinfo (containers can hide it): fall back to the intrinsics.
        }
        return null;
    }
}
