using System.Globalization;

namespace Microsoft.ML.Lora.Training;

/// <summary>What the training loop does when a step's loss or gradient norm is NaN or infinite.</summary>
public enum NonFiniteStepAction
{
    /// <summary>Stop with a <see cref="NonFiniteTrainingException"/>; the weights stay those of the last good step.</summary>
    Stop,
    /// <summary>Drop the step's gradients without updating (the step still counts for the schedule) and go on.</summary>
    Skip,
}

/// <summary>
/// A training step produced a NaN or infinite loss or gradient norm and training stopped before applying it: the
/// model's weights are those after the last good step, and checkpoints already written are left as they were.
/// </summary>
public sealed class NonFiniteTrainingException(long step, int epoch, double loss, double gradientNorm, double learningRate, long? lastCheckpointStep)
    : Exception(Describe(step, epoch, loss, gradientNorm, learningRate, lastCheckpointStep))
{
    /// <summary>The 1-based optimizer step that failed.</summary>
    public long Step { get; } = step;

    /// <summary>The 1-based epoch it belonged to.</summary>
    public int Epoch { get; } = epoch;

    /// <summary>The step's loss (NaN/Inf when the loss itself was not finite).</summary>
    public double Loss { get; } = loss;

    /// <summary>The joint gradient 2-norm (NaN when the loss already was not finite).</summary>
    public double GradientNorm { get; } = gradientNorm;

    /// <summary>The newest checkpoint written before the failure, or null when none was.</summary>
    public long? LastCheckpointStep { get; } = lastCheckpointStep;

    private static string Describe(long step, int epoch, double loss, double norm, double learningRate, long? checkpoint)
    {
        var c = CultureInfo.InvariantCulture;
        string what = double.IsFinite(loss) ? string.Format(c, "a non-finite gradient norm ({0})", norm) : string.Format(c, "a non-finite loss ({0})", loss);
        string kept = checkpoint is { } s ? string.Format(c, "; the last checkpoint (step {0}) is intact", s) : "";
        return string.Format(c,
            "Training step {0} (epoch {1}) produced {2}; training stopped before applying it, so the weights are those after step {3}{4}. " +
            "Lower the learning rate (this step used {5:G4}), check the data for extreme values, or skip such steps (NonFiniteSteps = Skip, --on-non-finite skip).",
            step, epoch, what, step - 1, kept, learningRate);
    }
}
