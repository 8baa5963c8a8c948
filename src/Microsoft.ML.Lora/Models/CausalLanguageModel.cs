using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>
/// What the decoder-only architectures (Llama family, GPT-2) share: an <c>lm_head</c>, a KV cache, and HF's
/// <c>*ForSequenceClassification</c> head <c>score</c> (no bias) reading the hidden state of the last real token.
/// </summary>
public abstract class CausalLanguageModel : PretrainedModel
{
    /// <summary>Classification/regression head [labels, width] (HF <c>score</c>), or null until added.</summary>
    public AdaptableLinear? score;

    /// <summary>Creates the top-level module.</summary>
    protected CausalLanguageModel(string name, ModelConfig config) : base(name, config)
    {
    }

    /// <inheritdoc />
    public override IReadOnlyList<string> ClassificationHeadModules => ["score"];

    /// <inheritdoc />
    public override string OutputHeadModule => "lm_head";

    /// <inheritdoc />
    public override bool SupportsKvCache => true;

    /// <inheritdoc />
    public override Tensor ForwardHidden(Tensor inputIds, Tensor? attentionMask = null) => ForwardHiddenCached(inputIds, attentionMask, null);

    /// <inheritdoc />
    public override Tensor ForwardHiddenCached(Tensor inputIds, Tensor? attentionMask, KvCache? cache)
    {
        ModelInput.Validate(inputIds, attentionMask, Config.VocabularySize, MaxSequenceLength, cache?.Length ?? 0);
        return ForwardBody(inputIds, attentionMask, cache);
    }

    /// <summary>The body's hidden states for inputs already validated.</summary>
    protected abstract Tensor ForwardBody(Tensor inputIds, Tensor? attentionMask, KvCache? cache);

    /// <inheritdoc />
    public override void AddClassificationHead(int labels, Generator? generator = null)
    {
        if (score is not null)
        {
            throw new InvalidOperationException("The model already has a classification head.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(labels, 1);
        score = NewHeadLayer(Config.ModelWidth, labels, hasBias: false, generator);
        register_module(nameof(score), score);
        ClassificationLabels = labels;
    }

    /// <inheritdoc />
    public override Tensor ClassificationLogits(Tensor inputIds, Tensor attentionMask)
    {
        if (score is null)
        {
            throw new InvalidOperationException("The model has no classification head; call AddClassificationHead first.");
        }
        using var scope = NewDisposeScope();
        var pooled = RowsAt(ForwardHidden(inputIds, attentionMask), LastRealTokenIndex(attentionMask));
        return score.forward(pooled.to(score.weight.dtype)).MoveToOuterDisposeScope();
    }
}
