using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Models;

/// <summary>
/// What every architecture's configuration has in common. Subclasses mirror a Hugging Face
/// <c>config.json</c> (property names in JSON are the HF keys), so a config round-trips through HF tools.
/// </summary>
public abstract class ModelConfig
{
    /// <summary>HF <c>model_type</c>: "llama", "qwen2", "mistral", "gpt2", "bert", "roberta", "distilbert".</summary>
    [JsonPropertyName("model_type")]
    public string ModelType { get; set; } = "";

    /// <summary>HF <c>torch_dtype</c> the weights are stored in ("float32", "bfloat16", "float16").</summary>
    [JsonPropertyName("torch_dtype")]
    public string? TorchDtype { get; set; }

    /// <summary>HF <c>initializer_range</c>: standard deviation of freshly initialised weights and heads.</summary>
    [JsonPropertyName("initializer_range")]
    public double InitializerRange { get; set; } = 0.02;

    /// <summary>
    /// The config.json keys this class does not model (architectures, transformers_version, dropout rates, ...),
    /// kept so a loaded config is written back with them.
    /// </summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtraFields { get; set; }

    /// <summary>Vocabulary size (rows of the token embedding).</summary>
    [JsonIgnore]
    public abstract int VocabularySize { get; }

    /// <summary>Width of the hidden states (d_model).</summary>
    [JsonIgnore]
    public abstract int ModelWidth { get; }

    /// <summary>Number of transformer blocks.</summary>
    [JsonIgnore]
    public abstract int LayerCount { get; }

    /// <summary>Longest sequence the position encoding supports.</summary>
    [JsonIgnore]
    public abstract int MaxPositions { get; }

    /// <summary>Throws <see cref="InvalidModelConfigException"/> when a value cannot describe a working model.</summary>
    public virtual void Validate(string source)
    {
        Require(VocabularySize > 0, source, "vocab_size must be positive");
        Require(ModelWidth > 0, source, "hidden size must be positive");
        Require(LayerCount > 0, source, "the number of layers must be positive");
    }

    /// <summary>Throws unless a dropout probability <paramref name="p"/> (named <paramref name="name"/>) is in [0, 1).</summary>
    protected static void RequireProbability(double p, string name, string source) =>
        Require(p is >= 0 and < 1, source, $"{name} ({p}) must be in [0, 1)");

    /// <summary>Throws when <paramref name="condition"/> is false.</summary>
    protected static void Require(bool condition, string source, string problem)
    {
        if (!condition)
        {
            throw new InvalidModelConfigException(source, problem);
        }
    }
}

/// <summary>A model configuration is missing a field or holds a value no model can have.</summary>
public sealed class InvalidModelConfigException(string source, string problem)
    : Exception($"{source}: {problem}")
{
    /// <summary>The file or object the configuration came from.</summary>
    public string ConfigSource { get; } = source;

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; } = problem;
}
