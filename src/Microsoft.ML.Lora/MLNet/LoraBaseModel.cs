using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// A base (pretrained) model with its tokenizer, where it came from and its fingerprint. Pass one to
/// <see cref="LoraFineTuneOptions.BaseModel"/> to train several adapters without reloading the base.
/// </summary>
public sealed class LoraBaseModel : IDisposable
{
    private LoraBaseModel(PretrainedModel model, TextTokenizer tokenizer, string? folder, string fingerprint)
    {
        Model = model;
        Tokenizer = tokenizer;
        Folder = folder;
        Fingerprint = fingerprint;
    }

    /// <summary>The model.</summary>
    public PretrainedModel Model { get; }

    /// <summary>Its tokenizer.</summary>
    public TextTokenizer Tokenizer { get; }

    /// <summary>The Hugging Face folder it was loaded from, or null for an in-memory model.</summary>
    public string? Folder { get; }

    /// <summary>See <see cref="ModelFingerprint"/>.</summary>
    public string Fingerprint { get; }

    /// <summary>The named adapters on this base (each fit adds one; several models can share the base).</summary>
    public LoraModel Lora => _lora ??= new LoraModel(Model);

    private LoraModel? _lora;

    /// <summary>Serialises use of the shared model (adapter switching and forward passes).</summary>
    internal object Gate { get; } = new();

    /// <summary>Loads a Hugging Face model folder: config.json, safetensors weights and tokenizer files.</summary>
    public static LoraBaseModel Load(string folder)
    {
        var model = PretrainedModelLoader.Load(folder);
        try
        {
            return new LoraBaseModel(model, TokenizerLoader.FromFolder(folder), Path.GetFullPath(folder), ModelFingerprint.OfFolder(folder));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Wraps a model built or loaded in memory (its fingerprint samples its tensors).</summary>
    public static LoraBaseModel FromModel(PretrainedModel model, TextTokenizer tokenizer, string? folder = null) =>
        new(model, tokenizer, folder is null ? null : Path.GetFullPath(folder), folder is null ? ModelFingerprint.OfModel(model) : ModelFingerprint.OfFolder(folder));

    /// <summary>Wraps a loaded model whose fingerprint is already known (e.g. verified against a saved model).</summary>
    internal static LoraBaseModel FromLoaded(PretrainedModel model, TextTokenizer tokenizer, string? folder, string fingerprint) =>
        new(model, tokenizer, folder, fingerprint);

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
