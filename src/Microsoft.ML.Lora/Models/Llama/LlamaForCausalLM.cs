using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Llama;

/// <summary>
/// HF LlamaForCausalLM (also Qwen2 and Mistral): <c>model.*</c> plus <c>lm_head</c> (absent when tied to
/// the embedding), and optionally HF's sequence-classification head <c>score</c> pooled at the last real token.
/// </summary>
public sealed class LlamaForCausalLM : CausalLanguageModel
{
    /// <summary>The decoder body.</summary>
    public LlamaModel model;
    /// <summary>Output head [vocab, hidden]; null when tied to <c>model.embed_tokens</c>.</summary>
    public AdaptableLinear? lm_head;

    /// <summary>Creates a model initialised as HF does (weights N(0, initializer_range), norms 1).</summary>
    public LlamaForCausalLM(LlamaConfig config) : base(nameof(LlamaForCausalLM), config)
    {
        config.Validate("LlamaConfig");
        LlamaConfig = config;
        model = new LlamaModel(config);
        lm_head = config.TieWordEmbeddings ? null : new AdaptableLinear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
        InitializeWeights();
    }

    /// <summary>The typed configuration.</summary>
    public LlamaConfig LlamaConfig { get; }

    /// <inheritdoc />
    public override string BaseModelPrefix => "model";

    /// <inheritdoc />
    /// <remarks>Dynamic rope scaling exists to run past max_position_embeddings, so it lifts the limit.</remarks>
    public override int? MaxSequenceLength => LlamaConfig.RopeScaling?.Kind == "dynamic" ? null : LlamaConfig.MaxPositionEmbeddings;

    /// <summary>Hidden states using and extending a KV cache (same as <see cref="PretrainedModel.ForwardHiddenCached"/>).</summary>
    public Tensor ForwardHidden(Tensor inputIds, Tensor? attentionMask, KvCache? cache) => ForwardHiddenCached(inputIds, attentionMask, cache);

    /// <inheritdoc />
    public override bool SupportsGradientCheckpointing => true;

    /// <inheritdoc />
    protected override void OnGradientCheckpointingChanged(bool enabled) => model.CheckpointLayers = enabled;

    /// <inheritdoc />
    protected override Tensor ForwardBody(Tensor inputIds, Tensor? attentionMask, KvCache? cache) => model.Forward(inputIds, attentionMask, cache);

    /// <inheritdoc />
    public override Tensor LanguageModelLogits(Tensor hidden) =>
        lm_head is null ? nn.functional.linear(hidden, model.embed_tokens.weight!) : lm_head.forward(hidden);
}
