namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// Trains and evaluates one trial for the sweep engine. The engine decides which settings run and for how
/// many steps; the runner owns the model, data and evaluator.
/// </summary>
public interface ISweepTrialRunner
{
    /// <summary>
    /// Trains with <paramref name="settings"/> until the model has taken <paramref name="stepBudget"/>
    /// optimiser steps in total (or its epochs end first; <see cref="long.MaxValue"/> means "no step limit")
    /// and evaluates it on validation data. When <paramref name="resumeFrom"/> holds a model from an
    /// earlier, shorter run of the same settings, training continues from it; when it is null or its
    /// <see cref="TrialOutcome.Model"/> is null (a trial read back from a results file), training starts over.
    /// Throws <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires.
    /// </summary>
    TrialOutcome Run(TrialSettings settings, long stepBudget, TrialOutcome? resumeFrom, CancellationToken cancellationToken);
}
