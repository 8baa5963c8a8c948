using System.Globalization;
using Microsoft.ML.Lora.Benchmarks;
using Microsoft.ML.Lora.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>Turns a requested <see cref="LoraPrecision"/> into the one a run uses, and warns when bf16 will be slow.</summary>
public static class PrecisionChoice
{
    private static readonly Lazy<double> MeasuredRatio = new(MeasureBf16SlowdownNow);
    private static int _warned;

    /// <summary>
    /// <see cref="LoraPrecision.Auto"/> becomes BFloat16 on a CPU with native bf16 (<see cref="CpuFeatures.HasNativeBFloat16"/>)
    /// and Float32 elsewhere — and Float32 for <see cref="LoraFineTuneMode.Full"/>, which freezes nothing to store in bf16.
    /// Float32 and BFloat16 stay as they are.
    /// </summary>
    public static LoraPrecision Resolve(LoraPrecision requested, CpuFeatures features, LoraFineTuneMode mode = LoraFineTuneMode.Lora)
    {
        ArgumentNullException.ThrowIfNull(features);
        return requested switch
        {
            LoraPrecision.Auto => mode != LoraFineTuneMode.Full && features.HasNativeBFloat16 ? LoraPrecision.BFloat16 : LoraPrecision.Float32,
            _ => requested,
        };
    }

    /// <summary>
    /// The warning for an explicit bf16 request on a CPU without native bf16, naming the measured bf16/fp32 GEMM time
    /// ratio (measured once per process on first need), or null when there is nothing to warn about. The warning is
    /// given once per process: later calls return null.
    /// </summary>
    public static string? SlowBFloat16Warning(LoraPrecision requested, CpuFeatures features)
    {
        ArgumentNullException.ThrowIfNull(features);
        if (requested != LoraPrecision.BFloat16 || features.HasNativeBFloat16 || Interlocked.Exchange(ref _warned, 1) == 1)
        {
            return null;
        }
        return string.Format(CultureInfo.InvariantCulture,
            "Precision BFloat16 on a CPU without native bf16 (features: {0}): a bf16 matrix product measured {1:F1}× the time of an fp32 one here, " +
            "so training may be that much slower. Use Float32 or Auto (--precision fp32|auto).",
            features.Reported.Count == 0 ? "none detected" : string.Join(",", features.Reported), MeasuredRatio.Value);
    }

    /// <summary>Time of a 512×512 bf16 matrix product over an fp32 one (best of 3 each), in this process.</summary>
    public static double MeasureBf16Slowdown() => MeasuredRatio.Value;

    private static double MeasureBf16SlowdownNow() =>
        HardwareProbes.GemmFlops(ScalarType.Float32, n: 512, repeats: 3) / HardwareProbes.GemmFlops(ScalarType.BFloat16, n: 512, repeats: 3);
}
