using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// LoRA settings with PEFT's meanings (the JSON names are PEFT's <c>adapter_config.json</c> keys).
/// h = W0·x + scale·B·A·x with scale = α/r (or α/√r with rsLoRA).
/// </summary>
public sealed class LoraConfig
{
    /// <summary>Rank r of the update (PEFT <c>r</c>).</summary>
    [JsonPropertyName("r")] public int Rank { get; set; } = 8;

    /// <summary>α (PEFT <c>lora_alpha</c>).</summary>
    [JsonPropertyName("lora_alpha")] public double Alpha { get; set; } = 16;

    /// <summary>Dropout on the adapter's input during training (PEFT <c>lora_dropout</c>).</summary>
    [JsonPropertyName("lora_dropout")] public double Dropout { get; set; }

    /// <summary>
    /// Modules to adapt: exact names or name suffixes ("q_proj"), or "all-linear" for every linear layer
    /// except the output head (PEFT <c>target_modules</c>).
    /// </summary>
    [JsonPropertyName("target_modules")] public List<string> TargetModules { get; set; } = ["q_proj", "v_proj"];

    /// <summary>Scale by α/√r instead of α/r (PEFT <c>use_rslora</c>).</summary>
    [JsonPropertyName("use_rslora")] public bool UseRsLora { get; set; }

    /// <summary>Modules trained in full and saved with the adapter, e.g. a classification head (PEFT <c>modules_to_save</c>).</summary>
    [JsonPropertyName("modules_to_save")] public List<string>? ModulesToSave { get; set; }

    /// <summary>The scale applied to B·A·x for a given rank and α.</summary>
    public static double ScaleFor(int rank, double alpha, bool useRsLora) =>
        useRsLora ? alpha / Math.Sqrt(rank) : alpha / rank;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for settings no adapter can have.</summary>
    public void Validate()
    {
        if (Rank <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Rank), Rank, "LoRA rank r must be at least 1.");
        }
        if (Alpha <= 0 || double.IsNaN(Alpha) || double.IsInfinity(Alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "lora_alpha must be a positive finite number.");
        }
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout))
        {
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "lora_dropout must be in [0, 1).");
        }
        if (TargetModules.Count == 0)
        {
            throw new ArgumentException("target_modules is empty: name at least one module (for example q_proj, v_proj) or all-linear.", nameof(TargetModules));
        }
    }
}
