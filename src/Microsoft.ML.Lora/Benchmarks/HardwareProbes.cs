using System.Diagnostics;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>
/// What this machine can do, measured in the running process with the same libtorch and thread settings as the
/// workload it is compared with: the FLOP/s of a large square matrix product and the bandwidth of a large copy.
/// </summary>
public static class HardwareProbes
{
    /// <summary>
    /// FLOP/s of an n×n by n×n matrix product (2·n³ FLOPs) in <paramref name="dtype"/>: the best of
    /// <paramref name="repeats"/> timed products after one warm-up. The best, not the median, because it
    /// estimates what the hardware can do; a busy machine only lowers it.
    /// </summary>
    public static double GemmFlops(ScalarType dtype = ScalarType.Float32, int n = 2048, int repeats = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(1);
        var a = randn([n, n], generator: generator).to(dtype);
        var b = randn([n, n], generator: generator).to(dtype);
        a.mm(b).Dispose();   // warm-up: kernel selection, allocator
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            using var product = a.mm(b);
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * (double)n / best;
    }

    /// <summary>
    /// Bytes per second of copying a <paramref name="megabytes"/> MiB buffer into another (read plus write
    /// counted, as STREAM's copy does): the best of <paramref name="repeats"/> copies after one warm-up.
    /// </summary>
    public static double CopyBandwidth(int megabytes = 256, int repeats = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(megabytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long elements = megabytes * 1024L * 1024 / sizeof(float);
        var source = ones(elements);
        var target = empty(elements);
        target.copy_(source);
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            target.copy_(source);
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * elements * sizeof(float) / best;
    }
}
