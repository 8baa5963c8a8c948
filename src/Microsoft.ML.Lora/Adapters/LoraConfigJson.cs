using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>Reading and writing PEFT's <c>adapter_config.json</c>.</summary>
public sealed partial class LoraConfig
{
    /// <summary>The file name PEFT gives the config.</summary>
    public const string FileName = "adapter_config.json";

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowReadingFromString };

    // PEFT's target_modules / exclude_modules are a list or one regex string: both forms are kept.
    [JsonInclude, JsonPropertyName("target_modules")]
    private JsonNode? TargetModulesJson
    {
        get => ListOrRegexToJson(TargetModules, TargetModulesRegex);
        set => (TargetModules, TargetModulesRegex) = ListOrRegexFromJson(value, "target_modules");
    }

    [JsonInclude, JsonPropertyName("exclude_modules")]
    private JsonNode? ExcludeModulesJson
    {
        get => ListOrRegexToJson(ExcludeModules, ExcludeModulesRegex);
        set => (ExcludeModules, ExcludeModulesRegex) = ListOrRegexFromJson(value, "exclude_modules");
    }

    // init_lora_weights is true/false or a method name; the original token is written back unchanged.
    [JsonInclude, JsonPropertyName("init_lora_weights")]
    private JsonNode? InitLoraWeightsJson
    {
        get => _initJson?.DeepClone() ?? _init switch
        {
            LoraInitialization.Default => JsonValue.Create(true),
            LoraInitialization.Random => JsonValue.Create(false),
            LoraInitialization.Gaussian => JsonValue.Create("gaussian"),
            LoraInitialization.Pissa => JsonValue.Create("pissa"),
            LoraInitialization.Olora => JsonValue.Create("olora"),
            LoraInitialization.NonZero => JsonValue.Create("nonzero"),
            _ => JsonValue.Create("other"),
        };
        set
        {
            _init = ParseInit(value);
            _initJson = value?.DeepClone();
        }
    }

    /// <summary>Parses PEFT's adapter_config.json text; <paramref name="source"/> names it in errors.</summary>
    public static LoraConfig FromJson(string json, string source)
    {
        LoraConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<LoraConfig>(json, Options);
        }
        catch (JsonException e)
        {
            throw new InvalidAdapterConfigException(source, $"not a valid adapter config: {e.Message}");
        }
        catch (FormatException e)
        {
            throw new InvalidAdapterConfigException(source, e.Message);
        }
        return config ?? throw new InvalidAdapterConfigException(source, "the file holds null instead of an object");
    }

    /// <summary>Reads <c>adapter_config.json</c> from a file or from the folder holding it.</summary>
    public static LoraConfig Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        if (!File.Exists(file))
        {
            throw new FileNotFoundException($"Adapter config '{file}' does not exist.", file);
        }
        return FromJson(File.ReadAllText(file), file);
    }

    /// <summary>The config as PEFT writes it: indented JSON with sorted keys.</summary>
    public string ToJson()
    {
        var node = JsonSerializer.SerializeToNode(this, Options)!.AsObject();
        var sorted = new JsonObject();
        foreach (var (key, value) in node.OrderBy(p => p.Key, StringComparer.Ordinal).ToList())
        {
            node.Remove(key);
            sorted[key] = value;
        }
        return sorted.ToJsonString(Options);
    }

    /// <summary>Writes <c>adapter_config.json</c> into <paramref name="directory"/>.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, FileName), ToJson());
    }

    /// <summary>
    /// PEFT settings that change an adapter's meaning and that this library does not implement, each as
    /// "key = value"; empty when the adapter can be used faithfully.
    /// </summary>
    public IReadOnlyList<string> UnsupportedSettings()
    {
        var problems = new List<string>();
        foreach (var (key, value) in AdditionalFields ?? [])
        {
            bool harmless = value.ValueKind is JsonValueKind.Null or JsonValueKind.False
                || (value.ValueKind == JsonValueKind.Object && !value.EnumerateObject().Any())
                || (value.ValueKind == JsonValueKind.Array && value.GetArrayLength() == 0)
                || HarmlessKeys.Contains(key);
            if (!harmless)
            {
                problems.Add($"{key} = {value.GetRawText()}");
            }
        }
        return problems;
    }

    // Keys that only describe provenance or hardware setups and never change what the adapter computes.
    private static readonly HashSet<string> HarmlessKeys = new(StringComparer.Ordinal)
    {
        "revision", "auto_mapping", "megatron_core", "qalora_group_size", "layer_replication_meta",
        "peft_version", "runtime_config", "ensure_weight_tying",
        // Initialisation recipes: an imported adapter already holds its trained weights.
        "loftq_config", "eva_config", "corda_config", "lora_ga_config",
    };

    private static JsonNode? ListOrRegexToJson(List<string>? list, string? regex) =>
        regex is not null ? JsonValue.Create(regex)
        : list is null ? null
        : new JsonArray([.. list.Select(s => (JsonNode?)JsonValue.Create(s))]);

    private static (List<string>?, string?) ListOrRegexFromJson(JsonNode? node, string key) => node switch
    {
        null => (null, null),
        JsonArray array => ([.. array.Select(e => e?.GetValueKind() == JsonValueKind.String
            ? e.GetValue<string>()
            : throw new FormatException($"{key} must hold strings, found {e?.ToJsonString() ?? "null"}."))], null),
        JsonValue value when value.GetValueKind() == JsonValueKind.String => (null, value.GetValue<string>()),
        _ => throw new FormatException($"{key} must be a list of names or a regex string, found {node.ToJsonString()}."),
    };

    private static LoraInitialization ParseInit(JsonNode? node)
    {
        switch (node?.GetValueKind())
        {
            case null or JsonValueKind.True:
                return LoraInitialization.Default;
            case JsonValueKind.False:
                return LoraInitialization.Random;
            case JsonValueKind.String:
                var name = node.GetValue<string>().ToLowerInvariant();
                return name switch
                {
                    "gaussian" => LoraInitialization.Gaussian,
                    "olora" => LoraInitialization.Olora,
                    "nonzero" => LoraInitialization.NonZero,
                    _ when name == "pissa" || name.StartsWith("pissa_niter_", StringComparison.Ordinal) => LoraInitialization.Pissa,
                    _ => LoraInitialization.Other,
                };
            default:
                throw new FormatException($"init_lora_weights must be true, false or a method name, found {node.ToJsonString()}.");
        }
    }
}

/// <summary>Reads a JSON scalar or array into a list (PEFT accepts both, e.g. layers_to_transform 3 or [3, 4]).</summary>
public sealed class SingleOrListConverter<T> : JsonConverter<List<T>>
{
    /// <inheritdoc />
    public override List<T>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            return JsonSerializer.Deserialize<List<T>>(ref reader, options);
        }
        return [JsonSerializer.Deserialize<T>(ref reader, options)!];
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, List<T> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.ToList(), options);
}

/// <summary>An adapter config file is malformed or asks for something this library cannot do.</summary>
public sealed class InvalidAdapterConfigException(string source, string problem)
    : Exception($"{source}: {problem}")
{
    /// <summary>The file or object the configuration came from.</summary>
    public string ConfigSource { get; } = source;

    /// <summary>What is wrong.</summary>
    public string Problem { get; } = problem;
}
