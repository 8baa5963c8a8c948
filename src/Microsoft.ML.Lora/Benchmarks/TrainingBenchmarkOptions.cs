using Microsoft.ML.Lora.Adapters;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>Which weights a training benchmark trains.</summary>
public enum TrainingMode
{
    /// <summary>LoRA adapters on frozen weights.</summary>
    Lora,
    /// <summary>Every weight (full fine-tuning; always float32).</summary>
    Full,
}

/// <summary>What <see cref="TrainingBenchmark.Run"/> measures (the <c>mllora bench train</c> flags).</summary>
public sealed record TrainingBenchmarkOptions
{
    /// <summary>A <see cref="ModelPresets"/> name of a decoder-only model.</summary>
    public string Preset { get; init; } = "smollm2-135m";

    /// <summary>LoRA or full fine-tuning.</summary>
    public TrainingMode Mode { get; init; } = TrainingMode.Lora;

    /// <summary>Frozen weights in bfloat16 (LoRA only; adapters, optimizer state and loss stay float32).</summary>
    public bool BFloat16 { get; init; }

    /// <summary>How the frozen linear layers are stored (LoRA only): dense, NF4 or int8.</summary>
    public Adapters.Storage.FrozenWeightQuantization Quantization { get; init; }

    /// <summary>Tokens per row.</summary>
    public int SequenceLength { get; init; } = 256;

    /// <summary>Rows per step.</summary>
    public int BatchSize { get; init; } = 4;

    /// <summary>Timed optimizer steps.</summary>
    public int Steps { get; init; } = 10;

    /// <summary>Untimed steps first (allocations, kernel selection, optimizer state).</summary>
    public int WarmupSteps { get; init; } = 2;

    /// <summary>LoRA rank r.</summary>
    public int Rank { get; init; } = 8;

    /// <summary>LoRA α (the scale is α/r).</summary>
    public double Alpha { get; init; } = 16;

    /// <summary>LoRA target modules, comma-separated, or all-linear.</summary>
    public string Targets { get; init; } = LoraConfig.AllLinear;

    /// <summary>Recompute each decoder layer in the backward pass instead of keeping its activations.</summary>
    public bool GradientCheckpointing { get; init; }

    /// <summary>torch intra-op threads (null keeps the process setting).</summary>
    public int? Threads { get; init; }

    /// <summary>Seed of the weights and token ids.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that cannot run.</summary>
    public void Validate()
    {
        ModelPresets.Config(Preset);
        if (!ModelPresets.DecoderNames.Contains(Preset, StringComparer.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"Preset '{Preset}' is not a decoder-only model; training benchmarks take one of {string.Join(", ", ModelPresets.DecoderNames)}.", nameof(Preset));
        }
        if (Mode == TrainingMode.Full && BFloat16)
        {
            throw new ArgumentException("bf16 precision applies to frozen weights; full fine-tuning trains every weight in fp32.", nameof(BFloat16));
        }
        if (Mode == TrainingMode.Full && Quantization != Adapters.Storage.FrozenWeightQuantization.None)
        {
            throw new ArgumentException("Quantization applies to frozen weights; full fine-tuning trains every weight in fp32.", nameof(Quantization));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(SequenceLength, 2, nameof(SequenceLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(Steps, 1, nameof(Steps));
        ArgumentOutOfRangeException.ThrowIfNegative(WarmupSteps, nameof(WarmupSteps));
        ArgumentOutOfRangeException.ThrowIfLessThan(Rank, 1, nameof(Rank));
        if (Threads is { } threads)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1, nameof(Threads));
        }
    }
}
