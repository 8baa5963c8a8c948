using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Gpt2;

/// <summary>
/// HF GPT2LMHeadModel: <c>transformer.*</c> plus <c>lm_head</c> (tied to <c>transformer.wte</c> unless
/// tie_word_embeddings is false), and optionally HF GPT2ForSequenceClassification's <c>score</c> head
/// pooled at the last real token.
/// </summary>
public sealed class Gpt2LMHeadModel : CausalLanguageModel
{
    /// <summary>The decoder body.</summary>
    public Gpt2Model transformer;
    /// <summary>Separate output head [vocab, n_embd]; null when tied to <c>transformer.wte</c>.</summary>
    public AdaptableLinear? lm_head;

    /// <summary>Creates a model initialised as HF does (weights N(0, initializer_range), c_proj scaled by 1/√(2·n_layer)).</summary>
    public Gpt2LMHeadModel(Gpt2Config config) : base(nameof(Gpt2LMHeadModel), config)
    {
        config.Validate("Gpt2Config");
        Gpt2Config = config;
        transformer = new Gpt2Model(config);
        lm_head = config.TieWordEmbeddings ? null : new AdaptableLinear(config.NEmbd, config.VocabSize, hasBias: false);
        RegisterComponents();
        InitializeWeights();
        using var _ = no_grad();
        foreach (var block in transformer.h)
        {
            // GPT-2 scales the residual projections' init by 1/√(2·n_layer) (HF GPT2PreTrainedModel._init_weights).
            block.attn.c_proj.weight.normal_(0, config.InitializerRange / Math.Sqrt(2.0 * config.NLayer));
            block.mlp.c_proj.weight.normal_(0, config.InitializerRange / Math.Sqrt(2.0 * config.NLayer));
        }
    }

    /// <summary>The typed configuration.</summary>
    public Gpt2Config Gpt2Config { get; }

    /// <inheritdoc />
    public override string BaseModelPrefix => "transformer";

    /// <inheritdoc />
    protected override Tensor ForwardBody(Tensor inputIds, Tensor? attentionMask, KvCache? cache) => transformer.Forward(inputIds, attentionMask, cache);

    /// <inheritdoc />
    public override Tensor LanguageModelLogits(Tensor hidden) =>
        lm_head is null ? nn.functional.linear(hidden, transformer.wte.weight!) : lm_head.forward(hidden);
}
