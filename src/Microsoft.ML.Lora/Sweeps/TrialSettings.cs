using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// One point of a search space: the LoRA and optimiser settings a trial trains with. Value equality, so a
/// trial read back from a results file is recognised.
/// </summary>
public sealed record TrialSettings
{
    /// <summary>LoRA rank r.</summary>
    [JsonPropertyName("r")] public required int Rank { get; init; }

    /// <summary>LoRA α (absolute, already multiplied out when the space gives α as a ratio to r).</summary>
    [JsonPropertyName("lora_alpha")] public required double Alpha { get; init; }

    /// <summary>Optimiser learning rate.</summary>
    [JsonPropertyName("learning_rate")] public required double LearningRate { get; init; }

    /// <summary>LoRA dropout.</summary>
    [JsonPropertyName("lora_dropout")] public double Dropout { get; init; }

    /// <summary>Target modules as the trainer takes them: a comma list ("q_proj,v_proj") or "all-linear".</summary>
    [JsonPropertyName("target_modules")] public string TargetModules { get; init; } = LoraSearchSpace.QueryValue;

    /// <summary>Scale by α/√r (rsLoRA) instead of α/r.</summary>
    [JsonPropertyName("use_rslora")] public bool UseRsLora { get; init; }

    /// <summary>Passes over the training data (the per-trial step limit may stop a trial earlier).</summary>
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 1;

    /// <summary>α/r, the quantity plots group trials by.</summary>
    [JsonIgnore] public double AlphaRatio => Alpha / Rank;

    /// <summary>Compact text for tables and logs: "r=8 α=16 lr=0.001 ...".</summary>
    public override string ToString() =>
        $"r={Rank} alpha={SearchRange.Format(Alpha)} lr={SearchRange.Format(LearningRate)} dropout={SearchRange.Format(Dropout)} " +
        $"targets={TargetModules} rslora={(UseRsLora ? "on" : "off")} epochs={Epochs}";
}
