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
        if (additiveMask is not null)
        {
            return nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: additiveMask, p: dropout);
        }
        return nn.functional.scaled_dot_product_attention(q, k, v, p: dropout, is_casual: causal && q.shape[2] > 1);
    }
}
