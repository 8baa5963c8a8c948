namespace Microsoft.ML.Lora.Models;

/// <summary>
/// The modules LoRA adapts when the user names none, per HF <c>model_type</c>, as PEFT's
/// <c>TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING</c> chooses them: the attention query and value
/// projections under each architecture's own names (GPT-2 fuses q, k and v into <c>c_attn</c>). The trainer
/// options, the CLI and sweeps take their default from here.
/// </summary>
public static class DefaultLoraTargets
{
    private static readonly Dictionary<string, string[]> ByModelType = new(StringComparer.Ordinal)
    {
        ["llama"] = ["q_proj", "v_proj"],
        ["qwen2"] = ["q_proj", "v_proj"],
        ["mistral"] = ["q_proj", "v_proj"],
        ["gpt2"] = ["c_attn"],
        ["bert"] = ["query", "value"],
        ["roberta"] = ["query", "value"],
        ["distilbert"] = ["q_lin", "v_lin"],
    };

    /// <summary>The default target modules of a model type.</summary>
    /// <exception cref="ArgumentException">No default is known for the model type: name the target modules.</exception>
    public static IReadOnlyList<string> For(string modelType) =>
        ByModelType.TryGetValue(modelType, out var targets)
            ? targets
            : throw new ArgumentException(
                $"No default LoRA target modules are known for model_type '{modelType}': name them (for example \"all-linear\"). Known: {string.Join(", ", ByModelType.Keys.Order(StringComparer.Ordinal))}.",
                nameof(modelType));

    /// <summary>The default target modules of a model type as a comma list ("q_proj,v_proj"), as the trainer options take them.</summary>
    public static string CommaListFor(string modelType) => string.Join(",", For(modelType));

    /// <summary>Sets (or replaces) the default target modules of a model type, e.g. one added with <see cref="ModelRegistry.Register"/>.</summary>
    public static void Register(string modelType, params string[] targetModules)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelType);
        if (targetModules.Length == 0 || targetModules.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("Name at least one target module, none of them empty.", nameof(targetModules));
        }
        ByModelType[modelType] = [.. targetModules];
    }
}
