using TorchSharp;
using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Llama;

/// <summary>
/// HF LlamaForCausalLM (also Qwen2 and Mistral): <c>model.*</c> plus <c>lm_head</c> (absent when tied to
/// the embedding), and optionally HF's sequence-classification head <c>score</c> pooled at the last real token.
/// </summary>
public sealed class LlamaForCausalLM : PretrainedModel
{
    /// <summary>The decoder body.</summary>
    public LlamaModel model;
    /// <summary>Output head [vocab, hidden]; null when tied to <c>model.embed_tokens</c>.</summary>
    public AdaptableLinear? lm_head;
    /// <summary>Classification/regression head [labels, hidden] (HF <c>score</c>), or null.</summary>
    public AdaptableLinear? score;

    /// <summary>Creates a randomly initialised model for a config.</summary>
    public LlamaForCausalLM(LlamaConfig config) : base(nameof(LlamaForCausalLM), config)
    {
        config.Validate("LlamaConfig");
        LlamaConfig = config;
        model = new LlamaModel(config);
        lm_head = config.TieWordEmbeddings ? null : new AdaptableLinear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    /// <summary>The typed configuration.</summary>
    public LlamaConfig LlamaConfig { get; }

    /// <inheritdoc />
    public override IReadOnlyList<string> ClassificationHeadModules => ["score"];

    /// <inheritdoc />
    public override string OutputHeadModule => "lm_head";

    /// <inheritdoc />
    public override Tensor ForwardHidden(Tensor inputIds, Tensor? attentionMask = null) => model.Forward(inputIds, attentionMask);

    /// <summary>Hidden states using and extending a KV cache (incremental decoding).</summary>
    public Tensor ForwardHidden(Tensor inputIds, Tensor? attentionMask, KvCache? cache) => model.Forward(inputIds, attentionMask, cache);

    /// <inheritdoc />
    public override Tensor LanguageModelLogits(Tensor hidden) =>
        lm_head is null ? nn.functional.linear(hidden, model.embed_tokens.weight!) : lm_head.forward(hidden);

    /// <inheritdoc />
    public override void AddClassificationHead(int labels, Generator? generator = null)
    {
        if (score is not null)
        {
            throw new InvalidOperationException("The model already has a classification head.");
        }
        score = new AdaptableLinear(LlamaConfig.HiddenSize, labels, hasBias: false);
        using (no_grad())
        {
            // HF initialises heads with N(0, initializer_range = 0.02).
            score.weight.normal_(0, 0.02, generator);
        }
        score.to(model.embed_tokens.weight!.device);
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
        var hidden = ForwardHidden(inputIds, attentionMask);
        var last = LastRealTokenIndex(attentionMask);
        var pooled = hidden[arange(hidden.shape[0], device: hidden.device), last];
        return score.forward(pooled.to(score.weight.dtype)).MoveToOuterDisposeScope();
    }
}
