using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// TorchSharp calls whose managed binding does not do what its signature says; each wrapper reaches the libtorch
/// operation as documented, and a test (AttentionTests.BatchedAddProductsComputesInputPlusScaledProducts) pins the
/// binding so that a TorchSharp upgrade that fixes it fails loudly instead of silently changing results.
/// </summary>
internal static class TorchSharpCalls
{
    /// <summary>
    /// beta·input + alpha·(batch1 @ batch2) (torch.baddbmm; input broadcasts to [b, n, p]). TorchSharp 0.107's
    /// <c>Tensor.baddbmm(batch1, batch2)</c> hands its three tensors to a native entry point that reads them as
    /// (batch1, batch2, input), so the call is written with the receiver and arguments rotated to match.
    /// </summary>
    public static Tensor BatchedAddProducts(Tensor input, Tensor batch1, Tensor batch2, float beta, float alpha) =>
        batch1.baddbmm(batch2, input, beta, alpha);
}
