using Microsoft.ML.Lora.Adapters;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Bert;

/// <summary>HF distilbert Embeddings: LayerNorm(word + position) then dropout (no token types).</summary>
public sealed class DistilBertEmbeddings : nn.Module
{
    /// <summary>Token embedding [vocab, dim].</summary>
    public AdaptableEmbedding word_embeddings;
    /// <summary>Absolute position embedding [max_position_embeddings, dim].</summary>
    public AdaptableEmbedding position_embeddings;
    /// <summary>Norm of the summed embeddings (eps 1e-12, fixed in HF).</summary>
    public LayerNorm LayerNorm;

    private readonly double _dropout;

    /// <summary>Creates the embeddings for a config.</summary>
    public DistilBertEmbeddings(BertConfig config) : base(nameof(DistilBertEmbeddings))
    {
        word_embeddings = new AdaptableEmbedding(config.VocabSize, config.Hidden);
        position_embeddings = new AdaptableEmbedding(config.MaxPositionEmbeddings, config.Hidden);
        LayerNorm = nn.LayerNorm(config.Hidden, 1e-12);
        _dropout = config.HiddenDropout;
        RegisterComponents();
    }

    /// <summary>Embeds ids [B, T]; positions count real tokens.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask)
    {
        using var scope = NewDisposeScope();
        var positions = AttentionMask.PositionIds(attentionMask, inputIds.shape[0], inputIds.shape[1], inputIds.device);
        var summed = word_embeddings.forward(inputIds) + position_embeddings.forward(positions);
        return nn.functional.dropout(LayerNorm.forward(summed), _dropout, training).MoveToOuterDisposeScope();
    }
}

/// <summary>HF MultiHeadSelfAttention (distilbert): q_lin/k_lin/v_lin, bidirectional attention, out_lin.</summary>
public sealed class DistilBertAttention : nn.Module
{
    /// <summary>Query projection [dim, dim].</summary>
    public AdaptableLinear q_lin;
    /// <summary>Key projection [dim, dim].</summary>
    public AdaptableLinear k_lin;
    /// <summary>Value projection [dim, dim].</summary>
    public AdaptableLinear v_lin;
    /// <summary>Output projection [dim, dim].</summary>
    public AdaptableLinear out_lin;

    private readonly int _heads;
    private readonly double _dropout;

    /// <summary>Creates the block for a config.</summary>
    public DistilBertAttention(BertConfig config) : base(nameof(DistilBertAttention))
    {
        _heads = config.Heads;
        _dropout = config.AttentionDropout;
        q_lin = new AdaptableLinear(config.Hidden, config.Hidden, hasBias: true);
        k_lin = new AdaptableLinear(config.Hidden, config.Hidden, hasBias: true);
        v_lin = new AdaptableLinear(config.Hidden, config.Hidden, hasBias: true);
        out_lin = new AdaptableLinear(config.Hidden, config.Hidden, hasBias: true);
        RegisterComponents();
    }

    /// <summary>x [B, T, dim] → [B, T, dim]; <paramref name="mask"/> is additive [B, 1, 1, T] or null.</summary>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var q = AttentionHeads.Split(q_lin.forward(x), _heads);
        var k = AttentionHeads.Split(k_lin.forward(x), _heads);
        var v = AttentionHeads.Split(v_lin.forward(x), _heads);
        var attended = AttentionHeads.Attend(q, k, v, mask, causal: false, training ? _dropout : 0);
        return out_lin.forward(AttentionHeads.Merge(attended)).MoveToOuterDisposeScope();
    }
}

/// <summary>HF FFN (distilbert): dropout(lin2(act(lin1(x)))).</summary>
public sealed class DistilBertFfn : nn.Module<Tensor, Tensor>
{
    /// <summary>Expansion [hidden_dim, dim].</summary>
    public AdaptableLinear lin1;
    /// <summary>Projection back [dim, hidden_dim].</summary>
    public AdaptableLinear lin2;

    private readonly string _activation;
    private readonly double _dropout;

    /// <summary>Creates the block for a config.</summary>
    public DistilBertFfn(BertConfig config) : base(nameof(DistilBertFfn))
    {
        _activation = config.ActivationName;
        _dropout = config.HiddenDropout;
        lin1 = new AdaptableLinear(config.Hidden, config.Intermediate, hasBias: true);
        lin2 = new AdaptableLinear(config.Intermediate, config.Hidden, hasBias: true);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = lin2.forward(Activations.Apply(_activation, lin1.forward(x)));
        return nn.functional.dropout(h, _dropout, training).MoveToOuterDisposeScope();
    }
}

/// <summary>HF TransformerBlock (distilbert, post-LN): sa_layer_norm(attn(x) + x), then output_layer_norm(ffn(·) + ·).</summary>
public sealed class DistilBertBlock : nn.Module
{
    /// <summary>Self-attention.</summary>
    public DistilBertAttention attention;
    /// <summary>Norm after attention.</summary>
    public LayerNorm sa_layer_norm;
    /// <summary>Feed-forward block.</summary>
    public DistilBertFfn ffn;
    /// <summary>Norm after the feed-forward block.</summary>
    public LayerNorm output_layer_norm;

    /// <summary>Creates the block for a config.</summary>
    public DistilBertBlock(BertConfig config) : base(nameof(DistilBertBlock))
    {
        attention = new DistilBertAttention(config);
        sa_layer_norm = nn.LayerNorm(config.Hidden, 1e-12);
        ffn = new DistilBertFfn(config);
        output_layer_norm = nn.LayerNorm(config.Hidden, 1e-12);
        RegisterComponents();
    }

    /// <summary>Runs the block.</summary>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var h = sa_layer_norm.forward(attention.Forward(x, mask) + x);
        return output_layer_norm.forward(ffn.forward(h) + h).MoveToOuterDisposeScope();
    }
}

/// <summary>HF Transformer (distilbert): the block stack (HF module name "layer").</summary>
public sealed class DistilBertTransformer : nn.Module
{
    /// <summary>The blocks.</summary>
    public ModuleList<DistilBertBlock> layer;

    /// <summary>Creates the stack for a config.</summary>
    public DistilBertTransformer(BertConfig config) : base(nameof(DistilBertTransformer))
    {
        layer = new ModuleList<DistilBertBlock>(Enumerable.Range(0, config.Layers).Select(_ => new DistilBertBlock(config)).ToArray());
        RegisterComponents();
    }

    /// <summary>Runs every block.</summary>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        foreach (var block in layer)
        {
            x = block.Forward(x, mask);
        }
        return x;
    }
}

/// <summary>HF DistilBertModel: embeddings and transformer.</summary>
public sealed class DistilBertModel : nn.Module
{
    /// <summary>Embeddings.</summary>
    public DistilBertEmbeddings embeddings;
    /// <summary>Block stack.</summary>
    public DistilBertTransformer transformer;

    /// <summary>Creates the body for a config.</summary>
    public DistilBertModel(BertConfig config) : base(nameof(DistilBertModel))
    {
        embeddings = new DistilBertEmbeddings(config);
        transformer = new DistilBertTransformer(config);
        RegisterComponents();
    }

    /// <summary>Final hidden states [B, T, dim].</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask)
    {
        using var scope = NewDisposeScope();
        var x = embeddings.Forward(inputIds, attentionMask);
        return transformer.Forward(x, AttentionMask.ForEncoder(attentionMask, x.dtype)).MoveToOuterDisposeScope();
    }
}
