using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// What <see cref="LoraFineTuneMode.HeadOnly"/> and <see cref="LoraFineTuneMode.Full"/> change in a fit: which base the
/// trainer works on and which parameters train. Neither mode has an adapter, so the trained weights belong to the base
/// itself; the base is therefore always the fit's own (a shared <see cref="LoraFineTuneOptions.BaseModel"/> is reloaded
/// from its folder), never one other adapters use.
/// </summary>
internal static class FineTuneModes
{
    /// <summary>Throws <see cref="ArgumentException"/> for a mode that cannot apply to these settings.</summary>
    public static void Validate(LoraFineTuneOptions options)
    {
        if (!Enum.IsDefined(options.Mode))
        {
            throw new ArgumentException($"Mode {(int)options.Mode} is not a LoraFineTuneMode (Lora, HeadOnly, Full).", nameof(options));
        }
        if (options.Mode == LoraFineTuneMode.HeadOnly && options.Task == LoraTask.CausalLanguageModel)
        {
            throw new ArgumentException(
                "Mode HeadOnly trains a task head, and a causal language model has none of its own (its output head is the token embedding): use Lora or Full.",
                nameof(options));
        }
        if (options.Mode == LoraFineTuneMode.Full && options.Precision == LoraPrecision.BFloat16)
        {
            throw new ArgumentException(
                "Mode Full trains every weight, so none is frozen for Precision BFloat16 to store in bf16: use Float32 (or Lora/HeadOnly with bf16).",
                nameof(options));
        }
        if (options.Quantization != Adapters.Storage.FrozenWeightQuantization.None && options.Mode != LoraFineTuneMode.Lora)
        {
            throw new ArgumentException($"Quantization {options.Quantization} stores a frozen base under LoRA adapters: it needs Mode Lora, not {options.Mode}.", nameof(options));
        }
        if (options.Quantization != Adapters.Storage.FrozenWeightQuantization.None && options.EmbedBaseModel)
        {
            throw new ArgumentException($"Quantization {options.Quantization} with EmbedBaseModel is not supported yet: save with a referenced base (it is re-quantised at load).", nameof(options));
        }
    }

    /// <summary>The base a fit trains on, and whether the fit owns (and must dispose) it.</summary>
    public static (LoraBaseModel Base, bool Owned) OpenBase(LoraFineTuneOptions options)
    {
        if (options.BaseModel is { } shared)
        {
            if (options.Mode == LoraFineTuneMode.Lora && options.ChainCycles <= 1)
            {
                return (shared, false);
            }
            string what = options.Mode == LoraFineTuneMode.Lora ? $"ChainCycles {options.ChainCycles} (merging each cycle)" : $"Mode {options.Mode}";
            var folder = shared.Folder ?? throw new ArgumentException(
                $"{what} changes the base's own weights, so it trains a private copy loaded from the base's folder; this BaseModel was built in memory and has none. Set BaseModelPath instead.",
                nameof(options));
            return (LoraBaseModel.Load(folder), true);
        }
        return (LoraBaseModel.Load(options.BaseModelPath!), true);
    }

    /// <summary>
    /// Makes exactly the mode's parameters trainable: the head's (HeadOnly) or all (Full). The base's
    /// <see cref="LoraBaseModel.Lora"/> wrapper is created first because creating it freezes every parameter.
    /// </summary>
    public static void SetTrainable(LoraBaseModel baseModel, LoraFineTuneMode mode)
    {
        if (mode == LoraFineTuneMode.Lora)
        {
            return;
        }
        _ = baseModel.Lora;
        var heads = baseModel.Model.ClassificationHeadModules;
        foreach (var (name, parameter) in baseModel.Model.named_parameters())
        {
            parameter.requires_grad = mode == LoraFineTuneMode.Full || IsHeadParameter(heads, name);
        }
    }

    /// <summary>Whether a parameter name lies under one of the model's head modules.</summary>
    public static bool IsHeadParameter(IReadOnlyList<string> heads, string name) =>
        heads.Any(h => name.StartsWith(h + ".", StringComparison.Ordinal));
}
