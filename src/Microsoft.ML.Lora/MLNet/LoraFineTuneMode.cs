namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// What <see cref="LoraFineTuneTrainer"/> trains, so LoRA, a linear probe and full fine-tuning are compared by the
/// same trainer (same data reading, batching, optimizer, schedule and evaluation).
/// </summary>
public enum LoraFineTuneMode
{
    /// <summary>A LoRA adapter on the frozen base, plus the task head (the default).</summary>
    Lora,

    /// <summary>
    /// No adapter: only the task head (classifier or score) trains, over the frozen base — a linear probe.
    /// Classification and regression only (a causal language model's output head is its token embedding).
    /// </summary>
    HeadOnly,

    /// <summary>
    /// No adapter: every parameter of the base trains, with the task head. The saved zip then holds all the changed
    /// weights (the base is embedded, as with <see cref="LoraFineTuneOptions.EmbedBaseModel"/>), so it loads without the
    /// original base folder. Weights stay float32 (<see cref="LoraPrecision.BFloat16"/> is refused: nothing is frozen).
    /// </summary>
    Full,
}
