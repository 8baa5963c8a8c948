using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>How token states become one sentence vector.</summary>
public enum SentencePooling
{
    /// <summary>The mean of the real tokens' states (attention mask 1), as all-MiniLM-L6-v2 was trained.</summary>
    Mean,

    /// <summary>The first ([CLS]) token's state, as snowflake-arctic-embed-xs was trained.</summary>
    Cls,
}

/// <summary>
/// A model folder's sentence-embedding settings, in sentence-transformers' own files so that folders from either
/// side work on the other: <c>modules.json</c> lists Transformer → Pooling (→ Normalize), the pooling module's
/// <c>1_Pooling/config.json</c> sets <c>pooling_mode_mean_tokens</c> or <c>pooling_mode_cls_token</c>, and
/// <c>sentence_bert_config.json</c> holds <c>max_seq_length</c>. A folder without <c>modules.json</c> has no
/// settings (<see cref="Read"/> returns null): sentence-transformers then mean-pools, unnormalised.
/// </summary>
/// <param name="Pooling">The pooling the model was trained with.</param>
/// <param name="Normalize">Whether the model's pipeline ends in L2 normalisation.</param>
/// <param name="MaxSeqLength">Longest input in tokens (longer inputs are truncated), or null for the model's limit.</param>
public sealed record SentenceEmbeddingConfig(SentencePooling Pooling, bool Normalize, int? MaxSeqLength)
{
    /// <summary>The module list file.</summary>
    public const string ModulesFile = "modules.json";

    /// <summary>Max sequence length (and casing) file.</summary>
    public const string SentenceBertConfigFile = "sentence_bert_config.json";

    private const string TransformerType = "sentence_transformers.models.Transformer", PoolingType = "sentence_transformers.models.Pooling",
        NormalizeType = "sentence_transformers.models.Normalize", PoolingFolder = "1_Pooling", NormalizeFolder = "2_Normalize";

    private static readonly string[] UnsupportedModes =
        ["pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"];

    /// <summary>Reads a folder's settings, or null when it has no <c>modules.json</c>.</summary>
    /// <exception cref="SentenceEmbeddingConfigException">A file is malformed or names a module or pooling mode not supported.</exception>
    public static SentenceEmbeddingConfig? Read(string folder)
    {
        var modulesPath = Path.Combine(folder, ModulesFile);
        if (!File.Exists(modulesPath))
        {
            return null;
        }
        try
        {
            return ReadModules(folder, modulesPath);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            // JsonNode.GetValue throws these for a field of the wrong JSON type.
            throw new SentenceEmbeddingConfigException(modulesPath, $"a field in the sentence-transformers files has the wrong type ({e.Message})", e);
        }
    }

    private static SentenceEmbeddingConfig ReadModules(string folder, string modulesPath)
    {
        SentencePooling? pooling = null;
        bool normalize = false;
        foreach (var module in ReadJson(modulesPath).AsArray())
        {
            var type = module?["type"]?.GetValue<string>() ?? throw new SentenceEmbeddingConfigException(modulesPath, "a module has no 'type'");
            switch (type)
            {
                case TransformerType:
                    break;
                case PoolingType:
                    pooling = ReadPooling(Path.Combine(folder, module!["path"]?.GetValue<string>() ?? PoolingFolder, "config.json"));
                    break;
                case NormalizeType:
                    normalize = true;
                    break;
                default:
                    throw new SentenceEmbeddingConfigException(modulesPath, $"module type '{type}' is not supported (supported: Transformer, Pooling, Normalize)");
            }
        }
        var bertConfigPath = Path.Combine(folder, SentenceBertConfigFile);
        int? maxLength = File.Exists(bertConfigPath) ? ReadJson(bertConfigPath)["max_seq_length"]?.GetValue<int>() : null;
        return new SentenceEmbeddingConfig(pooling ?? SentencePooling.Mean, normalize, maxLength);
    }

    /// <summary>Writes the settings into a model folder whose token states are <paramref name="embeddingDimension"/> wide.</summary>
    /// <returns>The files written.</returns>
    public IReadOnlyList<string> Write(string folder, int embeddingDimension)
    {
        var modules = new JsonArray(Module(0, "", TransformerType), Module(1, PoolingFolder, PoolingType));
        if (Normalize)
        {
            modules.Add(Module(2, NormalizeFolder, NormalizeType));
            Directory.CreateDirectory(Path.Combine(folder, NormalizeFolder));
        }
        var pooling = new JsonObject
        {
            ["word_embedding_dimension"] = embeddingDimension,
            ["pooling_mode_cls_token"] = Pooling == SentencePooling.Cls,
            ["pooling_mode_mean_tokens"] = Pooling == SentencePooling.Mean,
            ["pooling_mode_max_tokens"] = false,
            ["pooling_mode_mean_sqrt_len_tokens"] = false,
        };
        var written = new List<string>
        {
            WriteJson(Path.Combine(folder, ModulesFile), modules),
            WriteJson(Path.Combine(folder, PoolingFolder, "config.json"), pooling),
        };
        if (MaxSeqLength is { } max)
        {
            written.Add(WriteJson(Path.Combine(folder, SentenceBertConfigFile), new JsonObject { ["max_seq_length"] = max, ["do_lower_case"] = false }));
        }
        return written;
    }

    /// <summary>Parses "mean" or "cls".</summary>
    public static SentencePooling ParsePooling(string value) => value.Trim().ToLowerInvariant() switch
    {
        "mean" => SentencePooling.Mean,
        "cls" => SentencePooling.Cls,
        _ => throw new ArgumentException($"Pooling '{value}' is not one of mean, cls."),
    };

    private static SentencePooling ReadPooling(string path)
    {
        var config = ReadJson(path);
        bool Flag(string key) => config[key]?.GetValue<bool>() ?? false;
        if (UnsupportedModes.FirstOrDefault(Flag) is { } mode)
        {
            throw new SentenceEmbeddingConfigException(path, $"'{mode}' is not supported (supported: pooling_mode_mean_tokens, pooling_mode_cls_token)");
        }
        return (Flag("pooling_mode_cls_token"), Flag("pooling_mode_mean_tokens")) switch
        {
            (true, false) => SentencePooling.Cls,
            (false, true) => SentencePooling.Mean,
            _ => throw new SentenceEmbeddingConfigException(path, "exactly one of pooling_mode_mean_tokens and pooling_mode_cls_token must be true"),
        };
    }

    private static JsonNode ReadJson(string path)
    {
        if (!File.Exists(path))
        {
            throw new SentenceEmbeddingConfigException(path, "the file does not exist");
        }
        using var document = SafeJson.ParseFile(path, problem => new SentenceEmbeddingConfigException(path, "the file is " + problem));
        return JsonNode.Parse(document.RootElement.GetRawText())
            ?? throw new SentenceEmbeddingConfigException(path, "the file holds null");
    }

    private static JsonObject Module(int index, string path, string type) =>
        new() { ["idx"] = index, ["name"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture), ["path"] = path, ["type"] = type };

    private static string WriteJson(string path, JsonNode node)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return path;
    }
}

/// <summary>A sentence-transformers settings file is malformed or asks for something not supported.</summary>
public sealed class SentenceEmbeddingConfigException(string filePath, string problem, Exception? inner = null)
    : CheckpointFormatException(filePath, problem, inner);
