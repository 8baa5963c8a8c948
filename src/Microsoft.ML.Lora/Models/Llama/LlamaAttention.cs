using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Llama;

/// <summary>
/// Grouped-query self-attention with rotary embeddings (HF LlamaAttention): q/k/v/o projections,
/// key/value head j serves query heads j·n_rep … (j+1)·n_rep−1 (<see cref="AttentionHeads.Attend"/> takes the
/// key/value heads as they are, without repeating them).
/// </summary>
public sealed class LlamaAttention : nn.Module
{
    /// <summary>Query projection [heads·head_dim, hidden].</summary>
    public AdaptableLinear q_proj;
    /// <summary>Key projection [kv_heads·head_dim, hidden].</summary>
    public AdaptableLinear k_proj;
    /// <summary>Value projection [kv_heads·head_dim, hidden].</summary>
    public AdaptableLinear v_proj;
    /// <summary>Output projection [hidden, heads·head_dim].</summary>
    public AdaptableLinear o_proj;

    private readonly int _heads, _kvHeads, _headDim;
    private readonly double _dropout;

    /// <summary>Creates the attention block for a config.</summary>
    public LlamaAttention(LlamaConfig config) : base(nameof(LlamaAttention))
    {
        _heads = config.NumAttentionHeads;
        _kvHeads = config.KeyValueHeads;
        _headDim = config.HeadDimension;
        _dropout = config.AttentionDropout;
        q_proj = new AdaptableLinear(config.HiddenSize, _heads * _headDim, config.QkvBias);
        k_proj = new AdaptableLinear(config.HiddenSize, _kvHeads * _headDim, config.QkvBias);
        v_proj = new AdaptableLinear(config.HiddenSize, _kvHeads * _headDim, config.QkvBias);
        o_proj = new AdaptableLinear(_heads * _headDim, config.HiddenSize, config.OutputBias);
        RegisterComponents();
    }

    /// <summary>
    /// x [B, T, hidden] → [B, T, hidden]. <paramref name="mask"/> is an additive [B, 1, T, S] mask,
    /// or null for plain causal attention. <paramref name="cache"/>, when given, receives this step's
    /// keys/values and supplies the earlier ones.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, LayerKvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var q = AttentionHeads.Split(q_proj.forward(x), _heads);
        var k = AttentionHeads.Split(k_proj.forward(x), _kvHeads);
        var v = AttentionHeads.Split(v_proj.forward(x), _kvHeads);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null)
        {
            (k, v) = cache.Append(k, v);
        }
        var attended = AttentionHeads.Attend(q, k, v, mask, causal: true, training ? _dropout : 0);
        return o_proj.forward(AttentionHeads.Merge(attended)).MoveToOuterDisposeScope();
    }
}
