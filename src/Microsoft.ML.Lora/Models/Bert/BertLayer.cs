using Microsoft.ML.Lora.Adapters;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Bert;

/// <summary>HF BertIntermediate: act(dense(x)), the feed-forward expansion.</summary>
public sealed class BertIntermediate : nn.Module<Tensor, Tensor>
{
    /// <summary>Expansion [intermediate, hidden].</summary>
    public AdaptableLinear dense;

    private readonly string _activation;

    /// <summary>Creates the block for a config.</summary>
    public BertIntermediate(BertConfig config) : base(nameof(BertIntermediate))
    {
        _activation = config.ActivationName;
        dense = new AdaptableLinear(config.Hidden, config.Intermediate, hasBias: true);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => Activations.Apply(_activation, dense.forward(x));
}

/// <summary>HF BertLayer (post-LN): attention block, then LayerNorm(h + dense(act(dense(h)))).</summary>
public sealed class BertLayer : nn.Module
{
    /// <summary>Self-attention with its output norm.</summary>
    public BertAttention attention;
    /// <summary>Feed-forward expansion.</summary>
    public BertIntermediate intermediate;
    /// <summary>Feed-forward projection back and norm (HF BertOutput).</summary>
    public BertResidualOutput output;

    /// <summary>Creates the layer for a config.</summary>
    public BertLayer(BertConfig config) : base(nameof(BertLayer))
    {
        attention = new BertAttention(config);
        intermediate = new BertIntermediate(config);
        output = new BertResidualOutput(config, config.Intermediate);
        RegisterComponents();
    }

    /// <summary>Runs the layer; <paramref name="mask"/> is additive [B, 1, 1, T] or null.</summary>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var h = attention.Forward(x, mask);
        return output.Forward(intermediate.forward(h), h).MoveToOuterDisposeScope();
    }
}

/// <summary>HF BertEncoder: the stack of layers (HF module name "layer").</summary>
public sealed class BertEncoder : nn.Module
{
    /// <summary>The layers.</summary>
    public ModuleList<BertLayer> layer;

    /// <summary>Creates the stack for a config.</summary>
    public BertEncoder(BertConfig config) : base(nameof(BertEncoder))
    {
        layer = new ModuleList<BertLayer>(Enumerable.Range(0, config.Layers).Select(_ => new BertLayer(config)).ToArray());
        RegisterComponents();
    }

    /// <summary>Runs every layer.</summary>
    public Tensor Forward(Tensor x, Tensor? mask)
    {
        foreach (var l in layer)
        {
            x = l.Forward(x, mask);
        }
        return x;
    }
}

/// <summary>HF BertModel / RobertaModel: embeddings, encoder and (bert only) pooler.</summary>
public sealed class BertModel : nn.Module
{
    /// <summary>Embeddings.</summary>
    public BertEmbeddings embeddings;
    /// <summary>Layer stack.</summary>
    public BertEncoder encoder;
    /// <summary>[CLS] pooler (null for roberta's classifier, which HF builds without one).</summary>
    public BertPooler? pooler;

    /// <summary>Creates the body for a config, with or without the pooler.</summary>
    public BertModel(BertConfig config, bool withPooler) : base(nameof(BertModel))
    {
        embeddings = new BertEmbeddings(config);
        encoder = new BertEncoder(config);
        pooler = withPooler ? new BertPooler(config) : null;
        RegisterComponents();
    }

    /// <summary>Final hidden states [B, T, hidden].</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypeIds)
    {
        using var scope = NewDisposeScope();
        var x = embeddings.Forward(inputIds, attentionMask, tokenTypeIds);
        return encoder.Forward(x, AttentionMask.ForEncoder(attentionMask, x.dtype)).MoveToOuterDisposeScope();
    }
}
