using BenchmarkDotNet.Attributes;
using Microsoft.ML.Lora.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks.Micro;

/// <summary>
/// Shared set-up: libtorch initialised with this library's thread settings, one thread-count per run
/// (LORA_NUM_THREADS), and every iteration inside a dispose scope so native memory does not accumulate.
/// Shapes default to SmolLM2-135M's at batch 4 × 256 tokens.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public abstract class TensorBenchmark
{
    /// <summary>Tokens per call (batch × sequence).</summary>
    protected const int Tokens = 1024;

    /// <summary>Model width.</summary>
    protected const int Width = 576;

    /// <summary>Compute dtype of the frozen weights and activations.</summary>
    [Params("fp32", "bf16")]
    public string Precision { get; set; } = "fp32";

    /// <summary>The dtype <see cref="Precision"/> names.</summary>
    protected ScalarType Dtype => Precision == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>Initialises libtorch once per benchmark process.</summary>
    [GlobalSetup]
    public void InitializeTorch()
    {
        TorchDevices.EnsureInitialized();
        manual_seed(1);
        Setup();
    }

    /// <summary>Creates the benchmark's tensors and modules.</summary>
    protected abstract void Setup();

    /// <summary>Releases them.</summary>
    [GlobalCleanup]
    public abstract void Cleanup();

    /// <summary>Runs <paramref name="body"/> in a dispose scope.</summary>
    protected static void Scoped(Action body)
    {
        using var scope = NewDisposeScope();
        body();
    }
}
