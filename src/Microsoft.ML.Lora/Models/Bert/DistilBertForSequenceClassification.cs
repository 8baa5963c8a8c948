using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Bert;

/// <summary>
/// HF DistilBertForSequenceClassification: <c>distilbert.*</c> and, once added, <c>pre_classifier</c> (dim→dim,
/// ReLU) and <c>classifier</c> (dim→labels) on the [CLS] state, with seq_classif_dropout between.
/// </summary>
public sealed class DistilBertForSequenceClassification : EncoderModel
{
    /// <summary>The encoder body.</summary>
    public DistilBertModel distilbert;
    /// <summary>First head layer [dim, dim], or null until added.</summary>
    public AdaptableLinear? pre_classifier;
    /// <summary>Second head layer [labels, dim], or null until added.</summary>
    public AdaptableLinear? classifier;

    /// <summary>Creates a model for a config (model_type "distilbert"), initialised as HF does.</summary>
    public DistilBertForSequenceClassification(BertConfig config) : base(nameof(DistilBertForSequenceClassification), config)
    {
        if (!config.IsDistilBert)
        {
            throw new InvalidModelConfigException(nameof(DistilBertForSequenceClassification), $"model_type '{config.ModelType}' is not 'distilbert'");
        }
        distilbert = new DistilBertModel(config);
        RegisterComponents();
        InitializeWeights();
    }

    /// <inheritdoc />
    public override IReadOnlyList<string> ClassificationHeadModules => ["pre_classifier", "classifier"];

    /// <inheritdoc />
    protected override bool HasClassificationHead => classifier is not null;

    /// <inheritdoc />
    protected override Tensor EncodeBody(Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypeIds) =>
        distilbert.Forward(inputIds, attentionMask);

    /// <inheritdoc />
    protected override void CreateClassificationHead(int labels, Generator? generator)
    {
        pre_classifier = NewHeadLayer(BertConfig.Hidden, BertConfig.Hidden, hasBias: true, generator);
        classifier = NewHeadLayer(BertConfig.Hidden, labels, hasBias: true, generator);
        register_module(nameof(pre_classifier), pre_classifier);
        register_module(nameof(classifier), classifier);
    }

    /// <inheritdoc />
    protected override Tensor HeadLogits(Tensor clsState)
    {
        using var scope = NewDisposeScope();
        var h = nn.functional.relu(pre_classifier!.forward(clsState.to(pre_classifier.weight.dtype)));
        return classifier!.forward(nn.functional.dropout(h, BertConfig.HeadDropout, training)).MoveToOuterDisposeScope();
    }
}
