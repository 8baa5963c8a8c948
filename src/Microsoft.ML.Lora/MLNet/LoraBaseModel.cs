using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// A base (pretrained) model with its tokenizer, where it came from and its fingerprint. Pass one to
/// <see cref="LoraFineTuneOptions.BaseModel"/> to train several adapters without reloading the base.
/// The tokenizer is read when text is first encoded or decoded, so work on token ids and weights (logits of
/// token ids, PEFT import, merging) needs no tokenizer files.
/// </summary>
public sealed class LoraBaseModel : IDisposable
{
    // Files that make a tokenizer on their own (the others only configure one).
    private static readonly string[] TokenizerModelFiles =
        [TokenizerFileNames.TokenizerJson, TokenizerFileNames.SentencePieceModel, TokenizerFileNames.VocabJson, TokenizerFileNames.VocabTxt];

    private readonly Lazy<TextTokenizer> _tokenizer;

    private LoraBaseModel(PretrainedModel model, Lazy<TextTokenizer> tokenizer, bool hasTokenizer, string? folder, string fingerprint)
    {
        Model = model;
        _tokenizer = tokenizer;
        HasTokenizer = hasTokenizer;
        Folder = folder;
        Fingerprint = fingerprint;
    }

    /// <summary>The model.</summary>
    public PretrainedModel Model { get; }

    /// <summary>Its tokenizer, read on first use.</summary>
    /// <exception cref="InvalidTokenizerException">There are no tokenizer files, or they are malformed.</exception>
    public TextTokenizer Tokenizer => _tokenizer.Value;

    /// <summary>Whether tokenizer files came with the model (false: <see cref="Tokenizer"/> throws).</summary>
    public bool HasTokenizer { get; }

    /// <summary>The Hugging Face folder it was loaded from, or null for an in-memory model.</summary>
    public string? Folder { get; }

    /// <summary>See <see cref="ModelFingerprint"/>.</summary>
    public string Fingerprint { get; }

    /// <summary>The named adapters on this base (each fit adds one; several models can share the base).</summary>
    public LoraModel Lora => _lora ??= new LoraModel(Model);

    private LoraModel? _lora;

    /// <summary>Serialises use of the shared model (adapter switching and forward passes).</summary>
    internal object Gate { get; } = new();

    /// <summary>Loads a Hugging Face model folder: config.json and safetensors weights (tokenizer files are read when first needed).</summary>
    public static LoraBaseModel Load(string folder)
    {
        var model = PretrainedModelLoader.Load(folder);
        try
        {
            var full = Path.GetFullPath(folder);
            return new LoraBaseModel(model, FolderTokenizer(full), HasTokenizerFiles(full), full, ModelFingerprint.OfFolder(folder));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Wraps a model built or loaded in memory (its fingerprint samples its tensors).</summary>
    public static LoraBaseModel FromModel(PretrainedModel model, TextTokenizer tokenizer, string? folder = null) =>
        new(model, new Lazy<TextTokenizer>(tokenizer), true, folder is null ? null : Path.GetFullPath(folder),
            folder is null ? ModelFingerprint.OfModel(model) : ModelFingerprint.OfFolder(folder));

    /// <summary>
    /// Wraps a loaded model whose fingerprint is already known (e.g. verified against a saved model), with the
    /// tokenizer of <paramref name="tokenizerFiles"/>; when there are none, the tokenizer of <paramref name="folder"/>.
    /// </summary>
    internal static LoraBaseModel FromLoaded(PretrainedModel model, IReadOnlyDictionary<string, byte[]> tokenizerFiles, string? folder, string fingerprint)
    {
        if (tokenizerFiles.Keys.Intersect(TokenizerModelFiles).Any() || folder is null)
        {
            var files = tokenizerFiles.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            return new(model, new Lazy<TextTokenizer>(() => TokenizerLoader.FromFiles(files)), files.Keys.Intersect(TokenizerModelFiles).Any(), folder, fingerprint);
        }
        return new(model, FolderTokenizer(folder), HasTokenizerFiles(folder), folder, fingerprint);
    }

    private static Lazy<TextTokenizer> FolderTokenizer(string folder) => new(() => TokenizerLoader.FromFolder(folder));

    private static bool HasTokenizerFiles(string folder) => TokenizerModelFiles.Any(name => File.Exists(Path.Combine(folder, name)));

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
