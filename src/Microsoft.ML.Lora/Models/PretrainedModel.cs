using TorchSharp;
using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>
/// A transformer whose module tree and parameter names equal a Hugging Face checkpoint's keys
/// (for example <c>model.layers.0.self_attn.q_proj.weight</c>), so weights load by name.
/// Every architecture exposes hidden states, a language-model head and an optional
/// sequence-classification head named as HF names it.
/// </summary>
public abstract class PretrainedModel : nn.Module
{
    /// <summary>Creates the top-level module.</summary>
    protected PretrainedModel(string name, ModelConfig config) : base(name) => Config = config;

    /// <summary>The architecture's configuration.</summary>
    public ModelConfig Config { get; }

    private bool _gradientCheckpointing;

    /// <summary>
    /// Whether training forward passes recompute each block during the backward pass instead of keeping its
    /// activations (see <see cref="ActivationCheckpoint"/>): far less memory for about one more forward pass of
    /// compute. It only acts while the model is in training mode, records gradients, and runs without a KV cache.
    /// </summary>
    /// <exception cref="NotSupportedException">Set to true on an architecture without support.</exception>
    public bool GradientCheckpointing
    {
        get => _gradientCheckpointing;
        set
        {
            if (value && !SupportsGradientCheckpointing)
            {
                throw new NotSupportedException($"{GetType().Name} does not support gradient checkpointing.");
            }
            _gradientCheckpointing = value;
            OnGradientCheckpointingChanged(value);
        }
    }

    /// <summary>Whether <see cref="GradientCheckpointing"/> can be turned on.</summary>
    public virtual bool SupportsGradientCheckpointing => false;

    /// <summary>Passes the <see cref="GradientCheckpointing"/> setting to the body.</summary>
    protected virtual void OnGradientCheckpointingChanged(bool enabled)
    {
    }

    /// <summary>Number of labels of the classification head, or 0 when there is none.</summary>
    public int ClassificationLabels { get; protected set; }

    /// <summary>The name of the classification head's module(s), as HF names them (for modules_to_save).</summary>
    public abstract IReadOnlyList<string> ClassificationHeadModules { get; }

    /// <summary>The name of the output (LM) head module, excluded from "all-linear" LoRA targets.</summary>
    public abstract string OutputHeadModule { get; }

    /// <summary>
    /// Final hidden states [batch, time, width]. <paramref name="attentionMask"/> [batch, time] holds
    /// 1 for real tokens and 0 for padding (left or right); positions count real tokens only, so
    /// padding never changes the real tokens' states.
    /// </summary>
    public abstract Tensor ForwardHidden(Tensor inputIds, Tensor? attentionMask = null);

    /// <summary>
    /// Hidden states using and extending <paramref name="cache"/> (incremental decoding): <paramref name="inputIds"/>
    /// holds only the new tokens, <paramref name="attentionMask"/> covers the cached plus the new positions.
    /// With a null cache this is <see cref="ForwardHidden"/>. (A separate name, not an overload, keeps
    /// <c>cref="ForwardHidden"</c> unambiguous.)
    /// </summary>
    public virtual Tensor ForwardHiddenCached(Tensor inputIds, Tensor? attentionMask, KvCache? cache) =>
        cache is null
            ? ForwardHidden(inputIds, attentionMask)
            : throw new NotSupportedException($"{GetType().Name} has no key/value cache.");

    /// <summary>Whether <see cref="ForwardHiddenCached"/> accepts a cache (decoder-only models).</summary>
    public virtual bool SupportsKvCache => false;

    /// <summary>Whether the model predicts the next token (has a causal LM head); false for encoders.</summary>
    public virtual bool IsCausalLanguageModel => true;

    /// <summary>
    /// The longest sequence (cached plus new positions) the model accepts, or null when it has no hard
    /// limit (Llama with dynamic rope scaling).
    /// </summary>
    public virtual int? MaxSequenceLength => Config.MaxPositions;

    /// <summary>
    /// HF <c>base_model_prefix</c>: the name of the body module ("model", "transformer", "bert", "roberta",
    /// "distilbert"). Checkpoints of the bare body (e.g. gpt2's) store keys without it.
    /// </summary>
    public virtual string BaseModelPrefix => "model";

    /// <summary>An empty cache sized for this model.</summary>
    public KvCache CreateKvCache() =>
        SupportsKvCache ? new KvCache(Config.LayerCount) : throw new NotSupportedException($"{GetType().Name} has no key/value cache.");

    /// <summary>Language-model logits [batch, time, vocab] from hidden states.</summary>
    public abstract Tensor LanguageModelLogits(Tensor hidden);

    /// <summary>Adds a freshly initialised classification (or regression, with one label) head.</summary>
    public abstract void AddClassificationHead(int labels, Generator? generator = null);

    /// <summary>Classification logits [batch, labels] for a batch of token ids.</summary>
    public abstract Tensor ClassificationLogits(Tensor inputIds, Tensor attentionMask);

    /// <summary>All adaptable linear layers with their full names.</summary>
    public IEnumerable<(string Name, AdaptableLinear Layer)> AdaptableLayers() =>
        named_modules().Where(m => m.module is AdaptableLinear).Select(m => (m.name, (AdaptableLinear)m.module));

    /// <summary>The rows of <paramref name="hidden"/> [batch, time, width] at one time index per batch row → [batch, width].</summary>
    protected static Tensor RowsAt(Tensor hidden, Tensor index) => hidden[arange(hidden.shape[0], device: hidden.device), index];

    /// <summary>
    /// A new head layer initialised as HF's <c>_init_weights</c> does (weight N(0, initializer_range), bias 0),
    /// kept in float32 on the model's device so it trains in full precision even on a bf16 body.
    /// </summary>
    protected AdaptableLinear NewHeadLayer(long inFeatures, long outFeatures, bool hasBias, Generator? generator)
    {
        var layer = new AdaptableLinear(inFeatures, outFeatures, hasBias);
        using (no_grad())
        {
            layer.weight.normal_(0, Config.InitializerRange, generator);
            layer.bias?.zero_();
        }
        layer.to(parameters().First().device);
        return layer;
    }

    /// <summary>
    /// Re-initialises every weight as HF's <c>_init_weights</c> does for a fresh model: linear and embedding
    /// weights N(0, initializer_range) (an embedding's padding row zero), biases 0, norms 1/0.
    /// </summary>
    protected void InitializeWeights(Generator? generator = null)
    {
        using var _ = no_grad();
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case AdaptableLinear linear:
                    linear.weight.normal_(0, Config.InitializerRange, generator);
                    linear.bias?.zero_();
                    break;
                case AdaptableEmbedding embedding:
                    embedding.weight.normal_(0, Config.InitializerRange, generator);
                    break;
                case TorchSharp.Modules.LayerNorm norm:
                    norm.weight?.fill_(1);
                    norm.bias?.zero_();
                    break;
            }
        }
    }

    /// <summary>Index of the first real token in each row: encoders pool their [CLS] token there (0 with right padding).</summary>
    protected static Tensor FirstRealTokenIndex(Tensor attentionMask) => attentionMask.to(ScalarType.Int64).argmax(-1);

    /// <summary>
    /// Index of the last real token in each row: HF's sequence classifiers pool there.
    /// Works for right padding (last 1) and left padding (position T-1).
    /// </summary>
    protected static Tensor LastRealTokenIndex(Tensor attentionMask)
    {
        var positions = arange(attentionMask.shape[1], device: attentionMask.device).unsqueeze(0);
        return (attentionMask.to(ScalarType.Int64) * positions).argmax(-1);
    }
}
