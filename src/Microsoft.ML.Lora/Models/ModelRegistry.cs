using Microsoft.ML.Lora.Models.Bert;
using Microsoft.ML.Lora.Models.Gpt2;
using Microsoft.ML.Lora.Models.Llama;

namespace Microsoft.ML.Lora.Models;

/// <summary>
/// Maps an HF <c>model_type</c> to its configuration type and to the code that builds a randomly
/// initialised model from a config. Loading a folder = read config → <see cref="Create"/> → load weights by name.
/// </summary>
public static class ModelRegistry
{
    private static readonly Dictionary<string, (Type ConfigType, Func<ModelConfig, PretrainedModel> Create)> Entries =
        new(StringComparer.Ordinal)
        {
            ["llama"] = (typeof(LlamaConfig), c => new LlamaForCausalLM((LlamaConfig)c)),
            ["qwen2"] = (typeof(LlamaConfig), c => new LlamaForCausalLM((LlamaConfig)c)),
            ["mistral"] = (typeof(LlamaConfig), c => new LlamaForCausalLM((LlamaConfig)c)),
            ["gpt2"] = (typeof(Gpt2Config), c => new Gpt2LMHeadModel((Gpt2Config)c)),
            ["bert"] = (typeof(BertConfig), c => new BertForSequenceClassification((BertConfig)c)),
            ["roberta"] = (typeof(BertConfig), c => new RobertaForSequenceClassification((BertConfig)c)),
            ["distilbert"] = (typeof(BertConfig), c => new DistilBertForSequenceClassification((BertConfig)c)),
        };

    /// <summary>The supported model types, sorted.</summary>
    public static IReadOnlyList<string> SupportedModelTypes => [.. Entries.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Registers (or replaces) an architecture.</summary>
    public static void Register(string modelType, Type configType, Func<ModelConfig, PretrainedModel> create) =>
        Entries[modelType] = (configType, create);

    /// <summary>The config type for a model type.</summary>
    public static Type ConfigTypeFor(string modelType, string source) =>
        Entries.TryGetValue(modelType, out var e) ? e.ConfigType : throw Unsupported(modelType, source);

    /// <summary>Builds a randomly initialised model for a config.</summary>
    public static PretrainedModel Create(ModelConfig config, string source = "config")
    {
        if (!Entries.TryGetValue(config.ModelType, out var entry))
        {
            throw Unsupported(config.ModelType, source);
        }
        config.Validate(source);
        return entry.Create(config);
    }

    private static UnsupportedModelTypeException Unsupported(string modelType, string source) =>
        new(source, modelType, SupportedModelTypes);
}

/// <summary>A config names a model_type this library cannot build.</summary>
public sealed class UnsupportedModelTypeException(string source, string modelType, IReadOnlyList<string> supported)
    : Exception($"{source}: model_type '{modelType}' is not supported. Supported: {string.Join(", ", supported)}.")
{
    /// <summary>The unsupported model type.</summary>
    public string ModelType { get; } = modelType;
}
