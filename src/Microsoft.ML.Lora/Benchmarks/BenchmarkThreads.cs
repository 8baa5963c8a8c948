using Microsoft.ML.Lora.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>Runs a measurement with libtorch initialised and, when asked, a given intra-op thread count (restored after).</summary>
internal static class BenchmarkThreads
{
    /// <summary>Runs <paramref name="measure"/> with <paramref name="threads"/> torch threads (null: the process setting).</summary>
    public static T Run<T>(int? threads, Func<T> measure)
    {
        if (threads is { } count)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(count, 1, nameof(threads));
        }
        TorchDevices.EnsureInitialized();
        int previous = get_num_threads();
        try
        {
            if (threads is { } n)
            {
                set_num_threads(n);
            }
            return measure();
        }
        finally
        {
            set_num_threads(previous);
        }
    }
}
