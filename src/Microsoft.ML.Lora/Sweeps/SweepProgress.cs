namespace Microsoft.ML.Lora.Sweeps;

/// <summary>A progress report: sent when a trial starts (<see cref="Finished"/> null) and when it finishes.</summary>
public sealed record SweepProgress
{
    /// <summary>Trial number (from 1).</summary>
    public required int Trial { get; init; }

    /// <summary>Successive-halving rung (0 for grid and random search).</summary>
    public required int Rung { get; init; }

    /// <summary>The trial's settings.</summary>
    public required TrialSettings Settings { get; init; }

    /// <summary>Total steps the trial trains to in this rung (<see cref="long.MaxValue"/>: its epochs decide).</summary>
    public required long StepBudget { get; init; }

    /// <summary>The finished evaluation; null in the report sent when the trial starts.</summary>
    public SweepTrialRecord? Finished { get; init; }

    /// <summary>True when the finished evaluation was read back from the results file rather than trained.</summary>
    public bool Resumed { get; init; }

    /// <summary>Evaluations finished so far (including this one when it is finished).</summary>
    public required int EvaluationsDone { get; init; }

    /// <summary>Evaluations the schedule plans in all (fewer may run if a budget ends the sweep).</summary>
    public required int EvaluationsPlanned { get; init; }

    /// <summary>Optimiser steps spent so far.</summary>
    public required long StepsSpent { get; init; }
}
