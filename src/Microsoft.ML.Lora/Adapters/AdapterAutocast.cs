using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// Inside a scope, adapters over a 16-bit base (bf16/fp16 activations) compute their two thin products in the
/// activations' dtype — the fp32 factors cast on the fly, the BLAS accumulating in fp32 — as PyTorch's autocast does
/// in a bf16 mixed-precision run. The factors, their accumulated gradients and the optimizer state stay fp32. Outside
/// any scope (and always over an fp32 base) adapters compute in their own dtype, as PEFT does without autocast.
/// The scope is per thread; the training loop holds one around each forward and backward pass.
/// </summary>
public static class AdapterAutocast
{
    [ThreadStatic]
    private static int _depth;

    /// <summary>Whether the current thread is inside a scope.</summary>
    public static bool IsActive => _depth > 0;

    /// <summary>Enters a scope; dispose the result to leave it.</summary>
    public static IDisposable Enter()
    {
        _depth++;
        return new Scope();
    }

    /// <summary>The dtype an adapter with factors of <paramref name="adapterDtype"/> computes in for input of <paramref name="inputDtype"/>.</summary>
    internal static ScalarType ComputeDtype(ScalarType inputDtype, ScalarType adapterDtype) =>
        IsActive && inputDtype is ScalarType.BFloat16 or ScalarType.Float16 ? inputDtype : adapterDtype;

    private sealed class Scope : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                _depth--;
            }
        }
    }
}
