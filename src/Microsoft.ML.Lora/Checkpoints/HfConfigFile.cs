using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// Reads and writes Hugging Face <c>config.json</c> files as typed <see cref="ModelConfig"/>s: the
/// <c>model_type</c> picks the class (<see cref="ModelRegistry.ConfigTypeFor"/>), the classes' JSON names are
/// the HF keys, and keys no class models are kept in <see cref="ModelConfig.ExtraFields"/>.
/// </summary>
public static class HfConfigFile
{
    /// <summary>The file name in a model folder.</summary>
    public const string FileName = "config.json";

    // Keys HF always writes and without which no sensible model can be built (defaults would silently
    // build a different model, e.g. Llama-7B dimensions for a 135M checkpoint).
    private static readonly Dictionary<string, string[]> RequiredKeys = new(StringComparer.Ordinal)
    {
        ["llama"] = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"],
        ["qwen2"] = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"],
        ["mistral"] = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"],
        ["gpt2"] = ["vocab_size", "n_embd", "n_layer", "n_head"],
        ["bert"] = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"],
        ["roberta"] = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"],
        ["distilbert"] = ["vocab_size", "dim", "n_layers", "n_heads", "hidden_dim"],
    };

    // Token ids that Llama 3 and others write as lists; the typed configs hold one id (the first).
    private static readonly string[] TokenIdKeys = ["bos_token_id", "eos_token_id", "pad_token_id"];

    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = true,
    };

    /// <summary>Reads <c>config.json</c> from a model folder, or a config file given directly.</summary>
    /// <exception cref="FileNotFoundException">There is no config file.</exception>
    /// <exception cref="InvalidModelConfigException">The file is not valid JSON or lacks a required field.</exception>
    /// <exception cref="UnsupportedModelTypeException">The model_type is not known (the message lists the known ones).</exception>
    public static ModelConfig Read(string folderOrFile)
    {
        var path = Path.GetFullPath(Directory.Exists(folderOrFile) ? Path.Combine(folderOrFile, FileName) : folderOrFile);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Model config '{path}' does not exist.", path);
        }
        using var document = SafeJson.ParseFile(path, problem => new InvalidModelConfigException(path, "the file is " + problem));
        return FromJson(document.RootElement, path);
    }

    /// <summary>Parses config.json text; <paramref name="source"/> names it in errors.</summary>
    public static ModelConfig Parse(string json, string source = FileName)
    {
        using var document = SafeJson.Parse(System.Text.Encoding.UTF8.GetBytes(json), problem => new InvalidModelConfigException(source, "the text is " + problem));
        return FromJson(document.RootElement, source);
    }

    /// <summary>
    /// The dtype weights load in: <paramref name="requested"/> when given, else the config's <c>torch_dtype</c>,
    /// else float32 (also for "auto").
    /// </summary>
    /// <exception cref="InvalidModelConfigException">torch_dtype names a type that cannot hold weights and none was requested.</exception>
    public static ScalarType WeightsDtype(ModelConfig config, ScalarType? requested = null, string source = FileName)
    {
        if (requested is not null)
        {
            return requested.Value;
        }
        if (config.TorchDtype is null or "auto")
        {
            return ScalarType.Float32;
        }
        return SafetensorsDtype.FromTorchDtypeName(config.TorchDtype)
            ?? throw new InvalidModelConfigException(source, $"torch_dtype '{config.TorchDtype}' is not a supported weight type (float32, bfloat16, float16, float64); pass a dtype explicitly");
    }

    /// <summary>
    /// The number of labels when the config was saved from a <c>...ForSequenceClassification</c> class
    /// (its <c>architectures</c>): the size of <c>id2label</c>, else <c>num_labels</c>, else HF's default 2.
    /// Zero for any other class.
    /// </summary>
    public static int SequenceClassificationLabels(ModelConfig config)
    {
        var extra = config.ExtraFields;
        if (extra is null || !extra.TryGetValue("architectures", out var architectures) || architectures.ValueKind != JsonValueKind.Array
            || !architectures.EnumerateArray().Any(a => a.ValueKind == JsonValueKind.String && a.GetString()!.EndsWith("ForSequenceClassification", StringComparison.Ordinal)))
        {
            return 0;
        }
        if (extra.TryGetValue("id2label", out var id2label) && id2label.ValueKind == JsonValueKind.Object)
        {
            return id2label.EnumerateObject().Count();
        }
        return extra.TryGetValue("num_labels", out var n) && n.TryGetInt32(out var count) && count > 0 ? count : 2;
    }

    /// <summary>
    /// The config as HF writes it: keys sorted, nulls left out, unknown keys kept, <c>torch_dtype</c> set to
    /// <paramref name="weightsDtype"/> when given, and <c>architectures</c> filled in when absent.
    /// </summary>
    public static JsonObject ToJson(ModelConfig config, ScalarType? weightsDtype = null, string? architecture = null)
    {
        var node = JsonSerializer.SerializeToNode(config, config.GetType(), WriteOptions)!.AsObject();
        if (weightsDtype is not null)
        {
            node["torch_dtype"] = SafetensorsDtype.TorchDtypeName(weightsDtype.Value);
            if (node.ContainsKey("dtype"))
            {
                node["dtype"] = SafetensorsDtype.TorchDtypeName(weightsDtype.Value);
            }
        }
        if (architecture is not null)
        {
            node["architectures"] = new JsonArray(architecture);
        }
        var sorted = new JsonObject();
        foreach (var (key, value) in node.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList())
        {
            node.Remove(key);
            sorted[key] = value;
        }
        return sorted;
    }

    /// <summary>Writes <see cref="ToJson"/> to a file.</summary>
    public static void Write(ModelConfig config, string path, ScalarType? weightsDtype = null, string? architecture = null) =>
        File.WriteAllText(path, ToJson(config, weightsDtype, architecture).ToJsonString(WriteOptions) + "\n");

    private static ModelConfig FromJson(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidModelConfigException(source, $"a config must be a JSON object, found {root.ValueKind}");
        }
        if (!root.TryGetProperty("model_type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String || typeElement.GetString()!.Length == 0)
        {
            throw new InvalidModelConfigException(source, "missing required field 'model_type'");
        }
        var modelType = typeElement.GetString()!;
        var configType = ModelRegistry.ConfigTypeFor(modelType, source);
        foreach (var key in RequiredKeys.GetValueOrDefault(modelType, []))
        {
            if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                throw new InvalidModelConfigException(source, $"missing required field '{key}' (model_type '{modelType}')");
            }
        }
        var node = JsonObject.Create(root)!;
        Normalise(node);
        ModelConfig config;
        try
        {
            config = (ModelConfig)node.Deserialize(configType)!;
        }
        catch (JsonException e)
        {
            throw new InvalidModelConfigException(source, $"field '{e.Path?.TrimStart('$', '.')}' has a value of the wrong type ({e.Message})");
        }
        config.Validate(source);
        return config;
    }

    private static void Normalise(JsonObject node)
    {
        foreach (var key in TokenIdKeys)
        {
            if (node[key] is JsonArray { Count: > 0 } list)
            {
                node[key] = list[0]!.DeepClone();
            }
            else if (node[key] is JsonArray)
            {
                node.Remove(key);
            }
        }
        // transformers ≥ 4.56 writes "dtype" where older versions wrote "torch_dtype".
        if (node["torch_dtype"] is null && node["dtype"] is JsonValue dtype && dtype.GetValueKind() == JsonValueKind.String)
        {
            node["torch_dtype"] = dtype.DeepClone();
        }
    }
}
