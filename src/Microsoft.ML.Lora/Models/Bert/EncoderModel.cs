using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Bert;

/// <summary>
/// What the BERT-family encoders share: bidirectional attention over real tokens, no causal LM head, and a
/// sequence-classification head that reads the [CLS] state. HF pools position 0; this pools the first real
/// token, which is position 0 with right padding (HF's convention) and stays the [CLS] token with left padding.
/// </summary>
public abstract class EncoderModel : PretrainedModel
{
    /// <summary>Creates the top-level module.</summary>
    protected EncoderModel(string name, BertConfig config) : base(name, config)
    {
        config.Validate(name);
        BertConfig = config;
    }

    /// <summary>The typed configuration.</summary>
    public BertConfig BertConfig { get; }

    /// <inheritdoc />
    public override bool IsCausalLanguageModel => false;

    /// <inheritdoc />
    /// <remarks>Encoders have no LM head; their trained head is the classifier, which LoRA must not target either.</remarks>
    public override string OutputHeadModule => "classifier";

    /// <inheritdoc />
    public override string BaseModelPrefix => BertConfig.ModelType;

    /// <summary>Whether the classification head exists.</summary>
    protected abstract bool HasClassificationHead { get; }

    /// <inheritdoc />
    public override Tensor ForwardHidden(Tensor inputIds, Tensor? attentionMask = null) => Encode(inputIds, attentionMask, null);

    /// <summary>
    /// Final hidden states [batch, time, hidden] with segment ids <paramref name="tokenTypeIds"/> [batch, time]
    /// (bert/roberta; null means all 0; distilbert has none).
    /// </summary>
    public Tensor Encode(Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypeIds)
    {
        ModelInput.Validate(inputIds, attentionMask, BertConfig.VocabSize, MaxSequenceLength);
        if (tokenTypeIds is not null)
        {
            ValidateTokenTypes(inputIds, tokenTypeIds);
        }
        return EncodeBody(inputIds, attentionMask, tokenTypeIds);
    }

    /// <summary>The body's hidden states for inputs already validated.</summary>
    protected abstract Tensor EncodeBody(Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypeIds);

    /// <inheritdoc />
    public override Tensor LanguageModelLogits(Tensor hidden) =>
        throw new LanguageModelHeadNotSupportedException(BertConfig.ModelType, "language-model logits");

    /// <inheritdoc />
    public override void AddClassificationHead(int labels, Generator? generator = null)
    {
        if (HasClassificationHead)
        {
            throw new InvalidOperationException("The model already has a classification head.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(labels, 1);
        CreateClassificationHead(labels, generator);
        ClassificationLabels = labels;
    }

    /// <summary>Creates and registers the head modules under HF's names.</summary>
    protected abstract void CreateClassificationHead(int labels, Generator? generator);

    /// <inheritdoc />
    public override Tensor ClassificationLogits(Tensor inputIds, Tensor attentionMask) => ClassificationLogits(inputIds, attentionMask, null);

    /// <summary>Classification logits [batch, labels] with segment ids (see <see cref="Encode"/>).</summary>
    public Tensor ClassificationLogits(Tensor inputIds, Tensor attentionMask, Tensor? tokenTypeIds)
    {
        if (!HasClassificationHead)
        {
            throw new InvalidOperationException("The model has no classification head; call AddClassificationHead first.");
        }
        using var scope = NewDisposeScope();
        var hidden = Encode(inputIds, attentionMask, tokenTypeIds);
        return HeadLogits(RowsAt(hidden, FirstRealTokenIndex(attentionMask))).MoveToOuterDisposeScope();
    }

    /// <summary>The head's logits [batch, labels] from the [CLS] states [batch, hidden].</summary>
    protected abstract Tensor HeadLogits(Tensor clsState);

    private void ValidateTokenTypes(Tensor inputIds, Tensor tokenTypeIds)
    {
        if (BertConfig.TokenTypes == 0)
        {
            throw new ModelInputException($"model_type '{BertConfig.ModelType}' has no token types; pass null token_type_ids.");
        }
        if (!tokenTypeIds.shape.SequenceEqual(inputIds.shape))
        {
            throw new ModelInputException(
                $"token_type_ids has shape [{string.Join(", ", tokenTypeIds.shape)}]; expected the ids' shape [{string.Join(", ", inputIds.shape)}].");
        }
        using var scope = NewDisposeScope();
        long highest = tokenTypeIds.max().to(ScalarType.Int64).item<long>(), lowest = tokenTypeIds.min().to(ScalarType.Int64).item<long>();
        if (lowest < 0 || highest >= BertConfig.TokenTypes)
        {
            throw new ModelInputException(
                $"Token type id {(lowest < 0 ? lowest : highest)} is outside 0..{BertConfig.TokenTypes - 1} (type_vocab_size {BertConfig.TokenTypes}).");
        }
    }
}
