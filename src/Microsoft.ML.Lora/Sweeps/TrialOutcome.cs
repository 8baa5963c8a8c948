namespace Microsoft.ML.Lora.Sweeps;

/// <summary>What one run of a trial produced: validation metrics, the steps trained, and the model.</summary>
public sealed class TrialOutcome
{
    /// <summary>Validation metrics; must hold the sweep's objective metric (NaN marks a diverged trial).</summary>
    public required IReadOnlyDictionary<SweepMetric, double> Metrics { get; init; }

    /// <summary>Optimiser steps the returned model has taken in total.</summary>
    public required long TotalSteps { get; init; }

    /// <summary>
    /// Optimiser steps this call ran: <see cref="TotalSteps"/> minus the resumed model's steps when training
    /// continued, all of them when it started over. The sweep's cost is the sum of these.
    /// </summary>
    public required long StepsTrained { get; init; }

    /// <summary>
    /// The trained model (for the ML.NET runner an <c>ITransformer</c>); the engine keeps the best few and
    /// disposes the others when they are <see cref="IDisposable"/>. Null when the outcome was read back from a file.
    /// </summary>
    public object? Model { get; init; }
}
