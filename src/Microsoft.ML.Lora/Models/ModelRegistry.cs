using Microsoft.ML.Lora.Models.Bert;
using Microsoft.ML.Lora.Models.Gpt2;
using Microsoft.ML.Lora.Models.Llama;

namespace Microsoft.ML.Lora.Models;

/// <summary>
/// Maps an HF <c>model_type</c> to its configuration type and to the code that builds a randomly
/// initialised model from a config. Loading a folder = read config → <see cref="Create"/> → load weights by name.
/// A model type can be known for its configuration only (<see cref="RegisterConfig"/>): its config.json then
/// parses, and <see cref="Create"/> says the architecture cannot be built yet.
/// </summary>
public static class ModelRegistry
{
    private static readonly Dictionary<string, Type> ConfigTypes = new(StringComparer.Ordinal)
    {
        ["llama"] = typeof(LlamaConfig),
        ["qwen2"] = typeof(LlamaConfig),
        ["mistral"] = typeof(LlamaConfig),
        ["gpt2"] = typeof(Gpt2Config),
        ["bert"] = typeof(BertConfig),
        ["roberta"] = typeof(BertConfig),
        ["distilbert"] = typeof(BertConfig),
    };

    private static readonly Dictionary<string, Func<ModelConfig, PretrainedModel>> Constructors = new(StringComparer.Ordinal)
    {
        ["llama"] = c => new LlamaForCausalLM((LlamaConfig)c),
        ["qwen2"] = c => new LlamaForCausalLM((LlamaConfig)c),
        ["mistral"] = c => new LlamaForCausalLM((LlamaConfig)c),
        ["gpt2"] = c => new Gpt2LMHeadModel((Gpt2Config)c),
        ["bert"] = c => new BertForSequenceClassification((BertConfig)c),
        ["roberta"] = c => new RobertaForSequenceClassification((BertConfig)c),
        ["distilbert"] = c => new DistilBertForSequenceClassification((BertConfig)c),
    };

    /// <summary>The model types that can be built (config and constructor registered), sorted.</summary>
    public static IReadOnlyList<string> SupportedModelTypes => [.. Constructors.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The model types whose config.json can be parsed, sorted.</summary>
    public static IReadOnlyList<string> KnownConfigModelTypes => [.. ConfigTypes.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Registers (or replaces) an architecture: its config type and its constructor.</summary>
    public static void Register(string modelType, Type configType, Func<ModelConfig, PretrainedModel> create)
    {
        RegisterConfig(modelType, configType);
        Constructors[modelType] = create;
    }

    /// <summary>Registers (or replaces) the config type of a model type, without a constructor.</summary>
    public static void RegisterConfig(string modelType, Type configType)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelType);
        if (!typeof(ModelConfig).IsAssignableFrom(configType))
        {
            throw new ArgumentException($"{configType} does not derive from {nameof(ModelConfig)}.", nameof(configType));
        }
        ConfigTypes[modelType] = configType;
    }

    /// <summary>The config type for a model type.</summary>
    /// <exception cref="UnsupportedModelTypeException">The model type is not known.</exception>
    public static Type ConfigTypeFor(string modelType, string source) =>
        ConfigTypes.TryGetValue(modelType, out var type) ? type : throw new UnsupportedModelTypeException(source, modelType, KnownConfigModelTypes);

    /// <summary>Builds a randomly initialised model for a config.</summary>
    /// <exception cref="UnsupportedModelTypeException">No constructor is registered for the config's model type.</exception>
    public static PretrainedModel Create(ModelConfig config, string source = "config")
    {
        if (!Constructors.TryGetValue(config.ModelType, out var create))
        {
            throw new UnsupportedModelTypeException(source, config.ModelType, SupportedModelTypes);
        }
        config.Validate(source);
        return create(config);
    }
}

/// <summary>A config names a model_type this library cannot build.</summary>
public sealed class UnsupportedModelTypeException(string source, string modelType, IReadOnlyList<string> supported)
    : Exception($"{source}: model_type '{modelType}' is not supported. Supported: {string.Join(", ", supported)}.")
{
    /// <summary>The unsupported model type.</summary>
    public string ModelType { get; } = modelType;

    /// <summary>The model types that are supported where this was raised.</summary>
    public IReadOnlyList<string> Supported { get; } = supported;
}
