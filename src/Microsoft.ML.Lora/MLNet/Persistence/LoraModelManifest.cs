using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet.Persistence;

/// <summary>
/// Everything a saved <see cref="LoraFineTuneTransformer"/> needs besides tensors and tokenizer files:
/// task, columns, label key values, LoRA config, the base model reference and scoring settings.
/// Stored as JSON in the model's entry of the ML.NET zip.
/// </summary>
internal sealed record LoraModelManifest
{
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public LoraTask Task { get; init; }
    public string TextColumn { get; init; } = "Text";
    public string? Text2Column { get; init; }
    public string LabelColumn { get; init; } = "Label";
    public string? PromptColumn { get; init; }
    public string? ResponseColumn { get; init; }
    /// <summary>The conversation column of a chat fine-tuned model (its rows and its scoring input are JSON conversations).</summary>
    public string? MessagesColumn { get; init; }
    /// <summary>The Jinja source of the chat template the model was fine-tuned with, so it is rendered the same way after loading.</summary>
    public string? ChatTemplate { get; init; }
    public string GeneratedTextColumn { get; init; } = "GeneratedText";
    public string[]? LabelKeyValues { get; init; }
    /// <summary>Binary: the classes' names [negative, positive] when the trainer was given them (absent from older zips).</summary>
    public string[]? LabelNames { get; init; }
    public int Labels { get; init; }
    /// <summary>Regression: the head predicts (label − LabelMean) / LabelScale, so targets of any scale train alike.</summary>
    public double LabelMean { get; init; }
    public double LabelScale { get; init; } = 1;
    /// <summary>What was trained; absent (Lora) in zips written before modes existed.</summary>
    public LoraFineTuneMode Mode { get; init; }
    public LoraConfig Lora { get; init; } = new();
    /// <summary>
    /// Chain of LoRA cycles (absent, 1, in zips without a chain): cycles 1..K−1 are stored as <c>Chain.{i}.safetensors</c>
    /// and merged into the base in order when the zip loads (an embedded base already holds them); cycle K is the adapter.
    /// </summary>
    public int ChainCycles { get; init; } = 1;
    public string AdapterName { get; init; } = "default";
    public BaseModelReference Base { get; init; } = new();
    public int MaxSequenceLength { get; init; }
    public TruncationSide TruncationSide { get; init; }
    public int ScoringBatchSize { get; init; }
    public int MaxNewTokens { get; init; }
    public double Temperature { get; init; }
    public int Seed { get; init; }
    public string Device { get; init; } = "cpu";
    public LoraPrecision Precision { get; init; }
    /// <summary>How the base's linear layers were stored while training (absent, None, in older zips).</summary>
    public Adapters.Storage.FrozenWeightQuantization Quantization { get; init; }
    /// <summary>SHA-256 of the quantised base's packed bytes, checked when the base is re-quantised at load.</summary>
    public string? QuantizedBaseFingerprint { get; init; }
    public string PairSeparator { get; init; } = "\n";
    public string ResponseSeparator { get; init; } = "\n";
    public string[] TokenizerFiles { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static LoraModelManifest FromJson(string json, string source)
    {
        LoraModelManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<LoraModelManifest>(json, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: the LoRA model manifest is not valid JSON ({e.Message}).", e);
        }
        if (manifest is null || manifest.FormatVersion is < 1 or > CurrentFormatVersion)
        {
            throw new InvalidDataException($"{source}: unsupported LoRA model format version {manifest?.FormatVersion} (this library reads 1..{CurrentFormatVersion}).");
        }
        // Tokenizer files are read from entries named after them and may be written to disk under these names.
        if (manifest.TokenizerFiles.FirstOrDefault(f => f.Length == 0 || f != Path.GetFileName(f) || f.Contains('\\') || f is "." or "..") is { } unsafeName)
        {
            throw new InvalidDataException($"{source}: the manifest names a tokenizer file '{unsafeName}' that is not a plain file name.");
        }
        return manifest;
    }
}

/// <summary>Where the base model of a saved fine-tuned model was, and how to recognise it.</summary>
public sealed record BaseModelReference
{
    /// <summary>The folder the base was loaded from when the model was saved (null for in-memory bases).</summary>
    public string? Path { get; init; }

    /// <summary>Its <see cref="ModelFingerprint"/>.</summary>
    public string Fingerprint { get; init; } = "";

    /// <summary>HF model_type.</summary>
    public string ModelType { get; init; } = "";

    /// <summary>Whether the base weights are inside the zip.</summary>
    public bool Embedded { get; init; }
}
