using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Bert;

/// <summary>
/// HF BertForSequenceClassification: <c>bert.*</c> (with pooler) and, once added, the head <c>classifier</c>
/// applied to the pooled [CLS] state after dropout.
/// </summary>
public sealed class BertForSequenceClassification : EncoderModel
{
    /// <summary>The encoder body.</summary>
    public BertModel bert;
    /// <summary>Head [labels, hidden], or null until added.</summary>
    public AdaptableLinear? classifier;

    /// <summary>Creates a model for a config (model_type "bert"), initialised as HF does.</summary>
    public BertForSequenceClassification(BertConfig config) : base(nameof(BertForSequenceClassification), config)
    {
        if (config.ModelType != "bert")
        {
            throw new InvalidModelConfigException(nameof(BertForSequenceClassification), $"model_type '{config.ModelType}' is not 'bert'");
        }
        bert = new BertModel(config, withPooler: true);
        RegisterComponents();
        InitializeWeights();
    }

    /// <inheritdoc />
    public override IReadOnlyList<string> ClassificationHeadModules => ["classifier"];

    /// <inheritdoc />
    protected override bool HasClassificationHead => classifier is not null;

    /// <inheritdoc />
    protected override Tensor EncodeBody(Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypeIds) =>
        bert.Forward(inputIds, attentionMask, tokenTypeIds);

    /// <inheritdoc />
    protected override void CreateClassificationHead(int labels, Generator? generator)
    {
        classifier = NewHeadLayer(BertConfig.Hidden, labels, hasBias: true, generator);
        register_module(nameof(classifier), classifier);
    }

    /// <inheritdoc />
    protected override Tensor HeadLogits(Tensor clsState)
    {
        var pooled = nn.functional.dropout(bert.pooler!.forward(clsState), BertConfig.HeadDropout, training);
        return classifier!.forward(pooled.to(classifier.weight.dtype));
    }
}
