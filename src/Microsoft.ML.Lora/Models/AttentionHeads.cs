using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>The multi-head attention arithmetic every architecture shares; only the projections differ.</summary>
public static class AttentionHeads
{
    /// <summary>[B, T, heads·d] → [B, heads, T, d].</summary>
    public static Tensor Split(Tensor x, int heads) => x.view(x.shape[0], x.shape[1], heads, -1).transpose(1, 2);

    /// <summary>[B, heads, T, d] → [B, T, heads·d].</summary>
    public static Tensor Merge(Tensor x) => x.transpose(1, 2).reshape(x.shape[0], x.shape[2], x.shape[1] * x.shape[3]);

    /// <summary>
    /// softmax(q·kᵀ/√d + mask)·v through scaled_dot_product_attention. With no additive mask, <paramref name="causal"/>
    /// selects is_causal (exact when queries and keys are the same positions); <paramref name="dropout"/> applies to
    /// the attention probabilities and should be 0 outside training.
    /// </summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? additiveMask, bool causal, double dropout = 0)
    {
        if (PrefersExplicitProducts(q))
        {
            return AttendExplicitly(q, k, v, additiveMask, causal, dropout);
        }
        if (additiveMask is not null)
        {
            return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: additiveMask, p: dropout);
        }
        return nn.functional.scaled_dot_product_attention(q, k, v, p: dropout, is_casual: causal && q.shape[2] > 1);
    }

    /// <summary>
    /// libtorch's CPU scaled_dot_product_attention kernel is slow for small heads and for 16-bit inputs; there the
    /// same arithmetic written out as two batched products and a softmax is faster (measured: SmolLM2's causal
    /// attention forward+backward in bf16 13.5 ms against 21 ms; 8-wide heads of stories260K 1.8 ms → a fraction,
    /// see docs/performance.md). Elsewhere (fp32 heads of 64 and more, GPUs) the kernel wins.
    /// </summary>
    private static bool PrefersExplicitProducts(Tensor q) =>
        q.device.type == DeviceType.CPU && (q.shape[^1] <= 32 || q.dtype is ScalarType.BFloat16 or ScalarType.Float16);

    /// <summary>
    /// softmax(q·kᵀ/√d + mask)·v as products (Hugging Face's "eager" attention): the causal mask, when no additive
    /// mask is given, is scaled_dot_product_attention's (key j visible to query i when j ≤ i). The softmax runs in
    /// fp32 inside the kernel for 16-bit scores and stores its result in their dtype.
    /// </summary>
    private static Tensor AttendExplicitly(Tensor q, Tensor k, Tensor v, Tensor? additiveMask, bool causal, double dropout)
    {
        using var scope = NewDisposeScope();
        long queries = q.shape[2], keys = k.shape[2];
        var scores = q.matmul(k.transpose(-2, -1)).mul_(1.0 / Math.Sqrt(q.shape[^1]));
        if (additiveMask is not null)
        {
            scores = scores.add_(additiveMask);
        }
        else if (causal && queries > 1)
        {
            scores = scores.masked_fill_(ones(queries, keys, ScalarType.Bool, q.device).triu(1), double.NegativeInfinity);
        }
        var probabilities = scores.softmax(-1);
        if (dropout > 0)
        {
            probabilities = nn.functional.dropout(probabilities, dropout, training: true);
        }
        return probabilities.matmul(v).MoveToOuterDisposeScope();
    }
}
