namespace Microsoft.ML.Lora.Training;

/// <summary>Optimisation settings of a fine-tuning run (the ML.NET Options map onto these).</summary>
public sealed class FineTuningSettings
{
    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; set; } = 3;
    /// <summary>Rows per forward/backward pass.</summary>
    public int BatchSize { get; set; } = 8;
    /// <summary>Batches whose gradients are summed before one optimizer step.</summary>
    public int GradientAccumulationSteps { get; set; } = 1;
    /// <summary>Peak learning rate (of A matrices and full-trained modules).</summary>
    public double LearningRate { get; set; } = 2e-4;
    /// <summary>LoRA+: B matrices learn at this multiple of <see cref="LearningRate"/> (1 = plain LoRA).</summary>
    public double LoraPlusRatio { get; set; } = 1;
    /// <summary>AdamW decoupled weight decay.</summary>
    public double WeightDecay { get; set; }
    /// <summary>Fraction of optimizer steps spent warming up linearly.</summary>
    public double WarmupRatio { get; set; }
    /// <summary>Decay after warm-up.</summary>
    public LearningRateScheduleKind Schedule { get; set; } = LearningRateScheduleKind.Linear;
    /// <summary>Gradient-norm clipping threshold (0 disables).</summary>
    public double MaxGradNorm { get; set; } = 1.0;
    /// <summary>Stop after this many optimizer steps (null: all epochs).</summary>
    public long? MaxSteps { get; set; }
    /// <summary>Seed of shuffling, dropout and initialisation.</summary>
    public int Seed { get; set; }
    /// <summary>Epochs without validation improvement before stopping (null: never stop early).</summary>
    public int? EarlyStoppingPatience { get; set; }
    /// <summary>"loss" (lower is better) or "accuracy" (higher is better).</summary>
    public string EarlyStoppingMetric { get; set; } = "loss";
    /// <summary>Length-bucket batches (sort by length within pools) to cut padding.</summary>
    public bool LengthBucketing { get; set; } = true;

    /// <summary>
    /// Recompute each decoder layer during the backward pass instead of keeping its activations (less memory,
    /// about one more forward pass of time); models without support ignore it. It also has glibc return freed
    /// blocks of 1 MiB and more to the OS (process-wide, see docs/performance.md), since memory is then the point.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>
    /// Over 16-bit frozen weights, let adapters compute their products in that dtype during training (see
    /// <see cref="Adapters.AdapterAutocast"/>); their weights and optimizer state stay fp32. No effect over fp32 weights.
    /// </summary>
    public bool Autocast { get; set; } = true;

    /// <summary>What a step whose loss or gradient norm is NaN/Inf does: stop (the default) or skip the update.</summary>
    public NonFiniteStepAction NonFiniteSteps { get; set; } = NonFiniteStepAction.Stop;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Check(GradientAccumulationSteps >= 1, nameof(GradientAccumulationSteps), GradientAccumulationSteps, "must be at least 1");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be a positive finite number");
        Check(LoraPlusRatio > 0 && double.IsFinite(LoraPlusRatio), nameof(LoraPlusRatio), LoraPlusRatio, "must be positive");
        Check(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must not be negative");
        Check(WarmupRatio is >= 0 and < 1, nameof(WarmupRatio), WarmupRatio, "must be in [0, 1)");
        Check(MaxGradNorm >= 0, nameof(MaxGradNorm), MaxGradNorm, "must not be negative");
        Check(MaxSteps is null or > 0, nameof(MaxSteps), MaxSteps, "must be positive");
        Check(EarlyStoppingPatience is null or > 0, nameof(EarlyStoppingPatience), EarlyStoppingPatience, "must be positive");
        Check(Enum.IsDefined(NonFiniteSteps), nameof(NonFiniteSteps), NonFiniteSteps, "must be Stop or Skip");
        Check(EarlyStoppingMetric is "loss" or "accuracy", nameof(EarlyStoppingMetric), EarlyStoppingMetric, "must be \"loss\" or \"accuracy\"");
    }

    private static void Check(bool ok, string name, object? value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}.");
        }
    }
}

/// <summary>One progress report of a fine-tuning run.</summary>
public sealed record FineTuningProgress(
    int Epoch, long Step, long TotalSteps, double Loss, double TokensPerSecond, double? ValidationLoss = null, double? ValidationAccuracy = null)
{
    /// <summary>The learning-rate schedule's multiplier this optimizer step used (null in validation reports).</summary>
    public double? LearningRateFactor { get; init; }
}

/// <summary>What a finished run did.</summary>
public sealed record FineTuningResult(long Steps, int Epochs, double FinalTrainLoss, double? BestValidationLoss, double? BestValidationAccuracy, bool StoppedEarly)
{
    /// <summary>Elements of the parameters that trained (LoRA factors and head copy, the head alone, or everything).</summary>
    public long TrainableParameters { get; init; }

    /// <summary>Steps whose loss or gradients were NaN/Inf and were skipped (<see cref="NonFiniteStepAction.Skip"/>).</summary>
    public long SkippedSteps { get; init; }

    /// <summary>Elements of every parameter of the model as trained, adapters included (PEFT's "all params").</summary>
    public long TotalParameters { get; init; }

    /// <summary>100 · trainable / all.</summary>
    public double TrainablePercent => TotalParameters == 0 ? 0 : 100.0 * TrainableParameters / TotalParameters;

    /// <summary>"trainable params: X || all params: Y || trainable%: Z", as PEFT's print_trainable_parameters.</summary>
    public string TrainableParametersReport() => string.Format(System.Globalization.CultureInfo.InvariantCulture,
        "trainable params: {0:N0} || all params: {1:N0} || trainable%: {2:F4}", TrainableParameters, TotalParameters, TrainablePercent);
}
