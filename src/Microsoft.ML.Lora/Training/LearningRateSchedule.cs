namespace Microsoft.ML.Lora.Training;

/// <summary>How the learning rate changes after warm-up.</summary>
public enum LearningRateScheduleKind
{
    /// <summary>Linear decay to zero (HF's default).</summary>
    Linear,
    /// <summary>Cosine decay to zero.</summary>
    Cosine,
    /// <summary>Constant after warm-up.</summary>
    Constant,
}

/// <summary>Warm-up then decay, as a multiplier of the base learning rate for an optimizer step.</summary>
public sealed class LearningRateSchedule(LearningRateScheduleKind kind, long warmupSteps, long totalSteps)
{
    /// <summary>The multiplier for optimizer step <paramref name="step"/> (0-based).</summary>
    public double Factor(long step)
    {
        if (warmupSteps > 0 && step < warmupSteps)
        {
            return (step + 1.0) / warmupSteps;
        }
        long decaySteps = Math.Max(1, totalSteps - warmupSteps);
        double progress = Math.Clamp((double)(step - warmupSteps) / decaySteps, 0, 1);
        return kind switch
        {
            LearningRateScheduleKind.Linear => 1 - progress,
            LearningRateScheduleKind.Cosine => 0.5 * (1 + Math.Cos(Math.PI * progress)),
            _ => 1.0,
        };
    }
}
