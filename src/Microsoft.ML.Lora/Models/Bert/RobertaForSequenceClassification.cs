using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Bert;

/// <summary>
/// HF RobertaForSequenceClassification: <c>roberta.*</c> (no pooler) and, once added, the head
/// <c>classifier.dense</c> + <c>classifier.out_proj</c> (HF RobertaClassificationHead) on the &lt;s&gt; state.
/// </summary>
public sealed class RobertaForSequenceClassification : EncoderModel
{
    /// <summary>The encoder body.</summary>
    public BertModel roberta;
    /// <summary>Head, or null until added.</summary>
    public RobertaClassificationHead? classifier;

    /// <summary>Creates a model for a config (model_type "roberta"), initialised as HF does.</summary>
    public RobertaForSequenceClassification(BertConfig config) : base(nameof(RobertaForSequenceClassification), config)
    {
        if (config.ModelType != "roberta")
        {
            throw new InvalidModelConfigException(nameof(RobertaForSequenceClassification), $"model_type '{config.ModelType}' is not 'roberta'");
        }
        roberta = new BertModel(config, withPooler: false);
        RegisterComponents();
        InitializeWeights();
    }

    /// <inheritdoc />
    public override IReadOnlyList<string> ClassificationHeadModules => ["classifier"];

    /// <inheritdoc />
    protected override bool HasClassificationHead => classifier is not null;

    /// <inheritdoc />
    protected override Tensor EncodeBody(Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypeIds) =>
        roberta.Forward(inputIds, attentionMask, tokenTypeIds);

    /// <inheritdoc />
    protected override void CreateClassificationHead(int labels, Generator? generator)
    {
        classifier = new RobertaClassificationHead(
            NewHeadLayer(BertConfig.Hidden, BertConfig.Hidden, hasBias: true, generator),
            NewHeadLayer(BertConfig.Hidden, labels, hasBias: true, generator),
            BertConfig.HeadDropout);
        register_module(nameof(classifier), classifier);
    }

    /// <inheritdoc />
    protected override Tensor HeadLogits(Tensor clsState) => classifier!.forward(clsState.to(classifier.dense.weight.dtype));
}

/// <summary>HF RobertaClassificationHead: out_proj(dropout(tanh(dense(dropout(x))))).</summary>
public sealed class RobertaClassificationHead : nn.Module<Tensor, Tensor>
{
    /// <summary>Hidden projection [hidden, hidden].</summary>
    public AdaptableLinear dense;
    /// <summary>Output projection [labels, hidden].</summary>
    public AdaptableLinear out_proj;

    private readonly double _dropout;

    /// <summary>Wraps initialised layers.</summary>
    public RobertaClassificationHead(AdaptableLinear dense, AdaptableLinear outProj, double dropout) : base(nameof(RobertaClassificationHead))
    {
        this.dense = dense;
        out_proj = outProj;
        _dropout = dropout;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = dense.forward(nn.functional.dropout(x, _dropout, training)).tanh();
        return out_proj.forward(nn.functional.dropout(h, _dropout, training)).MoveToOuterDisposeScope();
    }
}
