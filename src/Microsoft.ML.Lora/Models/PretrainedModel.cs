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

    /// <summary>Language-model logits [batch, time, vocab] from hidden states.</summary>
    public abstract Tensor LanguageModelLogits(Tensor hidden);

    /// <summary>Adds a freshly initialised classification (or regression, with one label) head.</summary>
    public abstract void AddClassificationHead(int labels, Generator? generator = null);

    /// <summary>Classification logits [batch, labels] for a batch of token ids.</summary>
    public abstract Tensor ClassificationLogits(Tensor inputIds, Tensor attentionMask);

    /// <summary>All adaptable linear layers with their full names.</summary>
    public IEnumerable<(string Name, AdaptableLinear Layer)> AdaptableLayers() =>
        named_modules().Where(m => m.module is AdaptableLinear).Select(m => (m.name, (AdaptableLinear)m.module));

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
