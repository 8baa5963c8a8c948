using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>One adapter's hyper-parameters on one layer (after rank/alpha patterns are applied).</summary>
public sealed record LoraAdapterSettings(int Rank, double Alpha, double Dropout = 0, bool UseRsLora = false, bool UseDora = false)
{
    /// <summary>The factor applied to B·A·x.</summary>
    public double Scale => LoraConfig.ScaleFor(Rank, Alpha, UseRsLora);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a rank below 1, a non-positive α or a dropout outside [0, 1).</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Rank, 1, nameof(Rank));
        if (!(Alpha > 0) || double.IsInfinity(Alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "LoRA α must be a positive finite number.");
        }
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout))
        {
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "LoRA dropout must be in [0, 1).");
        }
    }
}

/// <summary>What a trainable parameter of an adapter is (used for LoRA+ groups and trainability).</summary>
public enum LoraParameterRole
{
    /// <summary>lora_A [r, in] of a linear layer.</summary>
    A,
    /// <summary>lora_B [out, r] of a linear layer.</summary>
    B,
    /// <summary>DoRA's magnitude vector [out].</summary>
    Magnitude,
    /// <summary>lora_embedding_A [r, vocab].</summary>
    EmbeddingA,
    /// <summary>lora_embedding_B [dim, r].</summary>
    EmbeddingB,
    /// <summary>A modules_to_save copy's weight.</summary>
    SavedWeight,
    /// <summary>A modules_to_save copy's bias.</summary>
    SavedBias,
}

/// <summary>Per-layer bookkeeping of one adapter: its settings and what merging needs to undo itself.</summary>
internal sealed class AdapterSlot(string name) : IDisposable
{
    private LoraAdapterSettings? _settings;

    public string Name { get; } = name;

    /// <summary>The LoRA factors' settings, or null when the layer only holds a saved copy for this adapter.</summary>
    public LoraAdapterSettings? Settings
    {
        get => _settings;
        set
        {
            _settings = value;
            ScaleScalar?.Dispose();
            ScaleScalar = value is null ? null : value.Scale.ToScalar();
        }
    }

    /// <summary>The scale as a native scalar, created once so the forward pass does not allocate one per call.</summary>
    public Scalar? ScaleScalar { get; private set; }

    public bool HasFactors => _settings is not null;

    public bool HasCopy { get; set; }

    /// <summary>DoRA's m/‖W+ΔW‖ captured at merge time, needed to unmerge.</summary>
    public Tensor? DoraFactor { get; set; }

    /// <summary>The base weight and bias replaced when a saved copy was merged.</summary>
    public (Tensor Weight, Tensor? Bias)? ReplacedBase { get; set; }

    public void ClearMergeState()
    {
        DoraFactor?.Dispose();
        DoraFactor = null;
        if (ReplacedBase is { } replaced)
        {
            replaced.Weight.Dispose();
            replaced.Bias?.Dispose();
        }
        ReplacedBase = null;
    }

    public void Dispose()
    {
        ClearMergeState();
        ScaleScalar?.Dispose();
    }
}
