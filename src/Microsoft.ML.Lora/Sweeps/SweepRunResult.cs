namespace Microsoft.ML.Lora.Sweeps;

/// <summary>What a sweep found: every evaluation, the best trial, and the models of the best few.</summary>
public sealed class SweepRunResult
{
    internal SweepRunResult(string description, SweepObjective objective, IReadOnlyList<SweepTrialRecord> evaluations, IReadOnlyList<SweepTrialRecord> finalResults,
        IReadOnlyList<SweepTrialModel> bestModels, SweepStopReason stopReason, int resumedEvaluations)
    {
        Description = description;
        Objective = objective;
        Evaluations = evaluations;
        FinalResults = finalResults;
        BestModels = bestModels;
        StopReason = stopReason;
        ResumedEvaluations = resumedEvaluations;
        StepsSpent = evaluations.Sum(e => e.StepsSpent);
    }

    /// <summary>What identifies the sweep in its results file (see <see cref="LoraSweeper.Description"/>).</summary>
    public string Description { get; }

    /// <summary>The metric the sweep optimised.</summary>
    public SweepObjective Objective { get; }

    /// <summary>Every evaluation in the order it ran (resumed ones included): the full results table.</summary>
    public IReadOnlyList<SweepTrialRecord> Evaluations { get; }

    /// <summary>Each trial's latest evaluation, best first (ties: lower trial number first).</summary>
    public IReadOnlyList<SweepTrialRecord> FinalResults { get; }

    /// <summary>The best trial's latest evaluation; null when no trial finished.</summary>
    public SweepTrialRecord? Best => FinalResults.Count == 0 ? null : FinalResults[0];

    /// <summary>The kept models, best first; the first is the best trial's.</summary>
    public IReadOnlyList<SweepTrialModel> BestModels { get; }

    /// <summary>Optimiser steps spent on all evaluations (the sweep's cost).</summary>
    public long StepsSpent { get; }

    /// <summary>Why the sweep ended.</summary>
    public SweepStopReason StopReason { get; }

    /// <summary>Evaluations read back from the results file instead of trained.</summary>
    public int ResumedEvaluations { get; }
}
