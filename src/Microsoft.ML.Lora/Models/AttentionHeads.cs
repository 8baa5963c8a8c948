using Microsoft.ML.Lora.Runtime;
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
    /// softmax(q·kᵀ/√d + mask)·v through scaled_dot_product_attention. q is [B, heads, T, d]; k and v may have fewer
    /// heads (grouped-query attention), key/value head j serving query heads j·g … (j+1)·g−1 for g = heads / their
    /// heads. With no additive mask, <paramref name="causal"/> selects is_causal (exact when queries and keys are the
    /// same positions); <paramref name="dropout"/> applies to the attention probabilities and should be 0 outside
    /// training.
    /// </summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? additiveMask, bool causal, double dropout = 0)
    {
        long heads = q.shape[1], kvHeads = k.shape[1];
        if (kvHeads == 0 || heads % kvHeads != 0 || v.shape[1] != kvHeads)
        {
            throw new ArgumentException($"Attention needs query heads ({heads}) to be a multiple of key/value heads ({kvHeads}, {v.shape[1]}).");
        }
        if (PrefersExplicitProducts(q))
        {
            return AttendExplicitly(q, k, v, additiveMask, causal, dropout);
        }
        using var scope = NewDisposeScope();
        if (kvHeads != heads)
        {
            k = k.repeat_interleave(heads / kvHeads, dim: 1);
            v = v.repeat_interleave(heads / kvHeads, dim: 1);
        }
        var attended = additiveMask is not null
            ? nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: additiveMask, p: dropout)
            : nn.functional.scaled_dot_product_attention(q, k, v, p: dropout, is_casual: causal && q.shape[2] > 1);
        return attended.MoveToOuterDisposeScope();
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
    /// softmax(q·kᵀ/√d + mask)·v as batched products (Hugging Face's "eager" attention): the causal mask, when no
    /// additive mask is given, is scaled_dot_product_attention's (key j visible to query i when j ≤ i). The query heads
    /// that share a key/value head are stacked along the query axis, so each key/value head takes part in one product
    /// and is never copied per query head (nor its gradient summed back). The scale and the mask ride on the first
    /// product (baddbmm: mask + scale·q·kᵀ in one pass) instead of two more passes over the scores forward and two
    /// backward (docs/performance.md). The softmax runs in fp32 inside the kernel for 16-bit scores and stores its
    /// result in their dtype.
    /// </summary>
    private static Tensor AttendExplicitly(Tensor q, Tensor k, Tensor v, Tensor? additiveMask, bool causal, double dropout)
    {
        using var scope = NewDisposeScope();
        long batch = q.shape[0], heads = q.shape[1], queries = q.shape[2], kvHeads = k.shape[1], keys = k.shape[2];
        long group = heads / kvHeads, products = batch * kvHeads;
        // [B, kv·g, T, d] → [B·kv, g·T, d]: a view when q is contiguous (it is, after the rotary embedding).
        var stackedQueries = q.reshape(products, group * queries, q.shape[3]);
        var keysTransposed = k.reshape(products, keys, k.shape[3]).transpose(1, 2);
        float scale = (float)(1.0 / Math.Sqrt(q.shape[^1]));
        Tensor? bias = additiveMask is not null
            ? additiveMask.to(q.dtype).unsqueeze(2).expand(batch, kvHeads, group, queries, keys).reshape(products, group * queries, keys)
            : causal && queries > 1 ? CausalBias(queries, keys, group, q.dtype, q.device) : null;
        var scores = bias is null
            ? stackedQueries.bmm(keysTransposed).mul_(scale)
            : TorchSharpCalls.BatchedAddProducts(bias, stackedQueries, keysTransposed, beta: 1, alpha: scale);
        var probabilities = scores.softmax(-1);
        if (dropout > 0)
        {
            probabilities = nn.functional.dropout(probabilities, dropout, training: true);
        }
        var values = v.reshape(products, keys, v.shape[3]);
        return probabilities.bmm(values).view(batch, heads, queries, v.shape[3]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// [group·queries, keys] additive causal mask for <paramref name="group"/> stacked query heads: 0 where key ≤ query,
    /// the dtype's lowest value above. Every layer of a forward pass asks for the same one, so the last one built is
    /// kept per thread (outside any dispose scope; it never requires a gradient) instead of five small ops per layer.
    /// </summary>
    private static Tensor CausalBias(long queries, long keys, long group, ScalarType dtype, Device device)
    {
        var key = (queries, keys, group, dtype, device.type, device.index);
        if (_causalBias is { } cached && cached.Key == key && !cached.Bias.IsInvalid)
        {
            return cached.Bias;
        }
        using var scope = NewDisposeScope();
        var above = ones(queries, keys, ScalarType.Bool, device).triu(1);
        var bias = zeros(queries, keys, dtype, device).masked_fill_(above, AttentionMask.Lowest(dtype));
        var result = (group == 1 ? bias : bias.repeat(group, 1)).DetachFromDisposeScope();
        _causalBias?.Bias.Dispose();
        _causalBias = (key, result);
        return result;
    }

    [ThreadStatic]
    private static ((long, long, long, ScalarType, DeviceType, int) Key, Tensor Bias)? _causalBias;
}
