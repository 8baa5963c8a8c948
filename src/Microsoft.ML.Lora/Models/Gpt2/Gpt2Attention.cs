using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Gpt2;

/// <summary>
/// HF GPT2Attention: one fused Conv1D <c>c_attn</c> (weight [n_embd, 3·n_embd], stored [in, out]) whose
/// output splits into q, k, v in that order, causal attention, and the Conv1D output projection <c>c_proj</c>.
/// </summary>
public sealed class Gpt2Attention : nn.Module
{
    /// <summary>Fused q/k/v projection, Conv1D [n_embd, 3·n_embd].</summary>
    public AdaptableLinear c_attn;
    /// <summary>Output projection, Conv1D [n_embd, n_embd].</summary>
    public AdaptableLinear c_proj;

    private readonly int _heads, _width;
    private readonly double _attentionDropout, _residualDropout;
    // Extra factor on q so that SDPA's built-in 1/√d yields HF's scale when it differs from 1/√d.
    private readonly double? _queryRescale;

    /// <summary>Creates the attention of block <paramref name="layerIndex"/>.</summary>
    public Gpt2Attention(Gpt2Config config, int layerIndex) : base(nameof(Gpt2Attention))
    {
        _heads = config.NHead;
        _width = config.NEmbd;
        _attentionDropout = config.AttnPdrop;
        _residualDropout = config.ResidPdrop;
        double headDim = _width / _heads;
        double scale = (config.ScaleAttnWeights ? 1 / Math.Sqrt(headDim) : 1.0) / (config.ScaleAttnByInverseLayerIdx ? layerIndex + 1 : 1);
        _queryRescale = Math.Abs(scale * Math.Sqrt(headDim) - 1) < 1e-12 ? null : scale * Math.Sqrt(headDim);
        c_attn = new AdaptableLinear(_width, 3 * _width, hasBias: true, fanInFanOut: true);
        c_proj = new AdaptableLinear(_width, _width, hasBias: true, fanInFanOut: true);
        RegisterComponents();
    }

    /// <summary>
    /// x [B, T, n_embd] → [B, T, n_embd]. <paramref name="mask"/> is an additive [B, 1, T, S] mask or null for
    /// plain causal attention; <paramref name="cache"/> receives this step's keys/values and supplies earlier ones.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? mask, LayerKvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var qkv = c_attn.forward(x).split(_width, 2);
        var q = AttentionHeads.Split(qkv[0], _heads);
        var k = AttentionHeads.Split(qkv[1], _heads);
        var v = AttentionHeads.Split(qkv[2], _heads);
        if (_queryRescale is { } rescale)
        {
            q = q * rescale;
        }
        if (cache is not null)
        {
            (k, v) = cache.Append(k, v);
        }
        bool isTraining = training;
        var attended = AttentionHeads.Attend(q, k, v, mask, causal: true, isTraining ? _attentionDropout : 0);
        var output = c_proj.forward(AttentionHeads.Merge(attended));
        return nn.functional.dropout(output, _residualDropout, isTraining).MoveToOuterDisposeScope();
    }
}
