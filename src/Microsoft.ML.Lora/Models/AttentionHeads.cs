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
        if (PrefersExplicitProducts(q, k, additiveMask, causal))
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
    /// see docs/performance.md). For fp32 heads of 64 the kernel beats the plain products, but not the causal blocks
    /// (SmolLM2 shape, forward+backward: 10–11 ms against 17 ms at 256 positions, 37 against 63 ms at 512), which
    /// are taken up to <see cref="MaxBlockedPositions"/>: beyond, the kernel's memory (no scores kept) matters more.
    /// GPUs always take the kernel.
    /// </summary>
    private static bool PrefersExplicitProducts(Tensor q, Tensor k, Tensor? additiveMask, bool causal) =>
        q.device.type == DeviceType.CPU
        && (q.shape[^1] <= 32 || q.dtype is ScalarType.BFloat16 or ScalarType.Float16
            || UsesCausalBlocks(q, k, additiveMask, causal) && q.shape[2] <= MaxBlockedPositions);

    /// <summary>Longest self-attention that fp32 heads of more than 32 take through the causal blocks.</summary>
    internal const long MaxBlockedPositions = 1024;

    private static bool UsesCausalBlocks(Tensor q, Tensor k, Tensor? additiveMask, bool causal) =>
        additiveMask is null && causal && q.shape[2] == k.shape[2] && q.shape[2] > CausalBlock;

    /// <summary>
    /// softmax(q·kᵀ/√d + mask)·v as batched products (Hugging Face's "eager" attention): the causal mask, when no
    /// additive mask is given, is scaled_dot_product_attention's (key j visible to query i when j ≤ i). The query heads
    /// that share a key/value head are stacked along the query axis, so each key/value head takes part in one product
    /// and is never copied per query head (nor its gradient summed back). Causal self-attention without a mask goes
    /// through <see cref="AttendCausalBlocks"/>; the products themselves are <see cref="Products"/>.
    /// </summary>
    private static Tensor AttendExplicitly(Tensor q, Tensor k, Tensor v, Tensor? additiveMask, bool causal, double dropout)
    {
        if (UsesCausalBlocks(q, k, additiveMask, causal))
        {
            return AttendCausalBlocks(q, k, v, dropout);
        }
        long queries = q.shape[2], keys = k.shape[2];
        using var scope = NewDisposeScope();
        long batch = q.shape[0], heads = q.shape[1], kvHeads = k.shape[1];
        long group = heads / kvHeads, products = batch * kvHeads;
        // [B, kv·g, T, d] → [B·kv, g·T, d]: a view when q is contiguous (it is, after the rotary embedding).
        var stackedQueries = q.reshape(products, group * queries, q.shape[3]);
        var keysTransposed = k.reshape(products, keys, k.shape[3]).transpose(1, 2);
        Tensor? bias = additiveMask is not null
            ? additiveMask.to(q.dtype).unsqueeze(2).expand(batch, kvHeads, group, queries, keys).reshape(products, group * queries, keys)
            : causal && queries > 1 ? CausalBias(queries, keys, 0, group, q.dtype, q.device) : null;
        var values = v.reshape(products, keys, v.shape[3]);
        return Products(stackedQueries, keysTransposed, values, bias, dropout).view(q.shape[0], heads, queries, v.shape[3]).MoveToOuterDisposeScope();
    }

    /// <summary>Query positions per block of <see cref="AttendCausalBlocks"/> (tests lower it; long.MaxValue turns blocks off).</summary>
    internal static long CausalBlock { get; set; } = 64;

    /// <summary>
    /// Causal self-attention a block of <see cref="CausalBlock"/> query positions at a time, each block against the
    /// keys up to its last position only: the scores above the diagonal that the mask would zero are never computed.
    /// At 256 positions that is 3/4 of the products and softmax work (5/8 at 512); the blocks cost a copy of q and of
    /// the output, small next to the scores. Each block is the plain product form with its slice of the causal mask.
    /// </summary>
    private static Tensor AttendCausalBlocks(Tensor q, Tensor k, Tensor v, double dropout)
    {
        using var scope = NewDisposeScope();
        long batch = q.shape[0], heads = q.shape[1], positions = q.shape[2], kvHeads = k.shape[1], depth = q.shape[3];
        long group = heads / kvHeads, products = batch * kvHeads;
        var grouped = q.reshape(products, group, positions, depth);
        var keysTransposed = k.reshape(products, positions, depth).transpose(1, 2);
        var values = v.reshape(products, positions, v.shape[3]);
        var blocks = new List<Tensor>();
        for (long start = 0; start < positions; start += CausalBlock)
        {
            // A scope per block: without gradients each block's scores are freed before the next block's are made.
            using var blockScope = NewDisposeScope();
            long length = Math.Min(CausalBlock, positions - start), visible = start + length;
            var blockQueries = grouped.narrow(2, start, length).reshape(products, group * length, depth);
            var bias = CausalBias(length, visible, start, group, q.dtype, q.device);
            var attended = Products(blockQueries, keysTransposed.narrow(2, 0, visible), values.narrow(1, 0, visible), bias, dropout);
            blocks.Add(attended.view(products, group, length, v.shape[3]).MoveToOuterDisposeScope());
        }
        return cat(blocks, 2).view(batch, heads, positions, v.shape[3]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// softmax(bias + q·kᵀ/√d)·v for stacked queries [n, rows, d], transposed keys [n, d, keys] and values [n, keys, d].
    /// The scale and the mask ride on the first product (baddbmm: mask + scale·q·kᵀ in one pass) instead of two more
    /// passes over the scores forward and two backward (docs/performance.md). The softmax runs in fp32 inside the
    /// kernel for 16-bit scores and stores its result in their dtype.
    /// </summary>
    private static Tensor Products(Tensor queries, Tensor keysTransposed, Tensor values, Tensor? bias, double dropout)
    {
        float scale = (float)(1.0 / Math.Sqrt(queries.shape[^1]));
        var scores = bias is null
            ? queries.bmm(keysTransposed).mul_(scale)
            : TorchSharpCalls.BatchedAddProducts(bias, queries, keysTransposed, beta: 1, alpha: scale);
        var probabilities = scores.softmax(-1);
        if (dropout > 0)
        {
            probabilities = nn.functional.dropout(probabilities, dropout, training: true);
        }
        return probabilities.bmm(values);
    }

    /// <summary>
    /// [group·queries, keys] additive causal mask for <paramref name="group"/> stacked query heads whose first query is
    /// position <paramref name="firstQuery"/>: 0 where key ≤ query, the dtype's lowest value above. Every layer of a
    /// forward pass asks for the same few, so the last ones built are kept per thread (outside any dispose scope; they
    /// never require a gradient) instead of five small ops per layer.
    /// </summary>
    private static Tensor CausalBias(long queries, long keys, long firstQuery, long group, ScalarType dtype, Device device)
    {
        var key = (queries, keys, firstQuery, group, dtype, device.type, device.index);
        _causalBiases ??= [];
        if (_causalBiases.TryGetValue(key, out var cached) && !cached.IsInvalid)
        {
            return cached;
        }
        if (_causalBiases.Count >= MaxCachedBiases)
        {
            foreach (var stale in _causalBiases.Values)
            {
                stale.Dispose();
            }
            _causalBiases.Clear();
        }
        using var scope = NewDisposeScope();
        var above = ones(queries, keys, ScalarType.Bool, device).triu(1 + firstQuery);
        var bias = zeros(queries, keys, dtype, device).masked_fill_(above, AttentionMask.Lowest(dtype));
        var result = (group == 1 ? bias : bias.repeat(group, 1)).DetachFromDisposeScope();
        _causalBiases[key] = result;
        return result;
    }

    // Self-attention over up to 64 blocks (4,096 positions) keeps every block's mask; a cache that size holds a few MB.
    private const int MaxCachedBiases = 64;

    [ThreadStatic]
    private static Dictionary<(long, long, long, long, ScalarType, DeviceType, int), Tensor>? _causalBiases;
}
