using Microsoft.ML.Lora.Adapters;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Bert;

/// <summary>HF BertSelfAttention: query/key/value projections and bidirectional scaled dot-product attention.</summary>
public sealed class BertSelfAttention : nn.Module
{
    /// <summary>Query projection [hidden, hidden].</summary>
    public AdaptableLinear query;
    /// <summary>Key projection [hidden, hidden].</summary>
    public AdaptableLinear key;
    /// <summary>Value projection [hidden, hidden].</summary>
    public AdaptableLinear value;

    private readonly int _heads;
    private readonly double _dropout;

    /// <summary>Creates the block for a config.</summary>
    public BertSelfAttention(BertConfig config) : base(nameof(BertSelfAttention))
    {
        _heads = config.Heads;
        _dropout = config.AttentionDropout;
        query = new AdaptableLinear(config.Hidden, config.Hidden, hasBias: true);
        key = new AdaptableLinear(config.Hidden, config.Hidden, hasBias: true);
        value = new AdaptableLinear(config.Hidden, config.Hidden, hasBias: true);
        RegisterComponents();
    }

    /// <summary>x [B, T, hidden] → context [B, T, hidden]; <paramref name="mask"/> is additive [B, 1, 1, T] or null.</summary>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var q = AttentionHeads.Split(query.forward(x), _heads);
        var k = AttentionHeads.Split(key.forward(x), _heads);
        var v = AttentionHeads.Split(value.forward(x), _heads);
        var attended = AttentionHeads.Attend(q, k, v, mask, causal: false, training ? _dropout : 0);
        return AttentionHeads.Merge(attended).MoveToOuterDisposeScope();
    }
}

/// <summary>HF BertSelfOutput (and BertOutput's shape): LayerNorm(dropout(dense(h)) + residual), the post-LN step.</summary>
public sealed class BertResidualOutput : nn.Module
{
    /// <summary>Projection.</summary>
    public AdaptableLinear dense;
    /// <summary>Norm after the residual sum.</summary>
    public LayerNorm LayerNorm;

    private readonly double _dropout;

    /// <summary>Creates a projection from <paramref name="inFeatures"/> to the hidden width.</summary>
    public BertResidualOutput(BertConfig config, int inFeatures) : base(nameof(BertResidualOutput))
    {
        _dropout = config.HiddenDropout;
        dense = new AdaptableLinear(inFeatures, config.Hidden, hasBias: true);
        LayerNorm = nn.LayerNorm(config.Hidden, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>LayerNorm(dropout(dense(h)) + residual).</summary>
    public Tensor Forward(Tensor h, Tensor residual)
    {
        using var scope = NewDisposeScope();
        var projected = nn.functional.dropout(dense.forward(h), _dropout, training);
        return LayerNorm.forward(projected + residual).MoveToOuterDisposeScope();
    }
}

/// <summary>HF BertAttention: <c>self</c> attention followed by its <c>output</c> projection and norm.</summary>
public sealed class BertAttention : nn.Module
{
    /// <summary>The attention proper (HF module name "self").</summary>
    public BertSelfAttention @self;
    /// <summary>Output projection and post-LN.</summary>
    public BertResidualOutput output;

    /// <summary>Creates the block for a config.</summary>
    public BertAttention(BertConfig config) : base(nameof(BertAttention))
    {
        @self = new BertSelfAttention(config);
        output = new BertResidualOutput(config, config.Hidden);
        RegisterComponents();
    }

    /// <summary>x [B, T, hidden] → LayerNorm(x + attention(x)).</summary>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        return output.Forward(@self.Forward(x, mask), x).MoveToOuterDisposeScope();
    }
}
