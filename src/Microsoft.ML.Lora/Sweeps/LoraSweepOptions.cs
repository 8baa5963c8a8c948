using System.Globalization;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>What to sweep, how, and within which budget.</summary>
public sealed class LoraSweepOptions
{
    /// <summary>The settings to explore.</summary>
    public LoraSearchSpace SearchSpace { get; set; } = new();

    /// <summary>The metric to optimise; null picks the task's usual one (see <see cref="DefaultObjective"/>).</summary>
    public SweepObjective? Objective { get; set; }

    /// <summary>Grid, random or ASHA-style successive halving.</summary>
    public SweepStrategy Strategy { get; set; } = SweepStrategy.Grid;

    /// <summary>Seeds the random order (random and ASHA sampling); the same seed gives the same trials.</summary>
    public int Seed { get; set; }

    /// <summary>
    /// Most settings to try; null = the whole grid. For ASHA, the candidates entering the first rung: the
    /// whole grid when null, else this many random points.
    /// </summary>
    public int? MaxTrials { get; set; }

    /// <summary>Wall-clock budget for this run of the sweep; the trial running when it ends is abandoned.</summary>
    public TimeSpan? TimeLimit { get; set; }

    /// <summary>Most optimiser steps one trial may take (ASHA's top rung). Required for ASHA.</summary>
    public long? MaxStepsPerTrial { get; set; }

    /// <summary>
    /// ASHA's first rung, in steps. Rungs are counted down from the top: MaxStepsPerTrial / η^k, so the first rung
    /// is the smallest of these not below this value. Null: k = ⌊log_η(candidates)⌋ − 1 halvings, so that about η
    /// trials reach the top rung — enough to compare, few enough to be cheap.
    /// </summary>
    public long? MinStepsPerTrial { get; set; }

    /// <summary>ASHA's reduction factor η: each rung keeps the best 1/η and gives them η times the steps.</summary>
    public int ReductionFactor { get; set; } = 3;

    /// <summary>How many of the best trials keep their trained model (the best one is the sweep's result).</summary>
    public int KeepBestModels { get; set; } = 3;

    /// <summary>
    /// JSON file every finished trial is written to as it finishes; when it exists at the start (from an
    /// interrupted run of the same sweep) its trials are not trained again.
    /// </summary>
    public string? ResultsFile { get; set; }

    /// <summary>The objective a task is swept on by default: accuracy, micro-accuracy, R² or validation loss.</summary>
    public static SweepObjective DefaultObjective(LoraTask task) => new(task switch
    {
        LoraTask.BinaryClassification => SweepMetric.Accuracy,
        LoraTask.MulticlassClassification => SweepMetric.MicroAccuracy,
        LoraTask.Regression => SweepMetric.RSquared,
        _ => SweepMetric.Loss,
    });

    /// <summary>The objective in force for a task.</summary>
    public SweepObjective ObjectiveFor(LoraTask task) => Objective ?? DefaultObjective(task);

    /// <summary>
    /// Throws <see cref="InvalidSearchSpaceException"/>, <see cref="SweepObjectiveException"/> or
    /// <see cref="InvalidSweepOptionsException"/> for anything that cannot run, before any trial trains.
    /// </summary>
    public void Validate(LoraTask task)
    {
        ArgumentNullException.ThrowIfNull(SearchSpace, nameof(SearchSpace));
        SearchSpace.Validate();
        ObjectiveFor(task).ValidateFor(task);
        Require(MaxTrials is null or >= 1, nameof(MaxTrials), $"{MaxTrials} trials: at least 1 is needed.");
        Require(TimeLimit is null || TimeLimit > TimeSpan.Zero, nameof(TimeLimit), $"{TimeLimit} is not a positive time span.");
        Require(MaxStepsPerTrial is null or >= 1, nameof(MaxStepsPerTrial), $"{MaxStepsPerTrial} steps: at least 1 is needed.");
        Require(MinStepsPerTrial is null or >= 1, nameof(MinStepsPerTrial), $"{MinStepsPerTrial} steps: at least 1 is needed.");
        Require(MinStepsPerTrial is null || MaxStepsPerTrial is null || MinStepsPerTrial <= MaxStepsPerTrial,
            nameof(MinStepsPerTrial), $"the first rung ({MinStepsPerTrial} steps) is above the per-trial limit ({MaxStepsPerTrial} steps).");
        Require(ReductionFactor >= 2, nameof(ReductionFactor), $"η = {ReductionFactor}: successive halving needs η ≥ 2.");
        Require(KeepBestModels >= 1, nameof(KeepBestModels), $"{KeepBestModels}: keep at least the best model.");
        Require(Strategy != SweepStrategy.Asha || MaxStepsPerTrial is not null, nameof(MaxStepsPerTrial),
            "ASHA counts its rungs in training steps: set MaxStepsPerTrial (the steps a fully trained trial takes).");
        Require(Strategy != SweepStrategy.Random || !SearchSpace.IsContinuous || MaxTrials is not null, nameof(MaxTrials),
            "random search over a continuous range needs MaxTrials.");
    }

    /// <summary>
    /// Everything that decides which trials run and what they train: a resumed sweep must match it exactly.
    /// The time limit and the number of models kept are left out, as they change nothing already recorded.
    /// </summary>
    internal string Describe(LoraTask task, TrialSettings baseSettings, string context) => string.Join("; ",
        $"task={task}",
        $"space={SearchSpace}",
        $"base={baseSettings}",
        $"strategy={Strategy}",
        $"seed={Seed.ToString(CultureInfo.InvariantCulture)}",
        $"max-trials={MaxTrials?.ToString(CultureInfo.InvariantCulture) ?? "all"}",
        $"max-steps={MaxStepsPerTrial?.ToString(CultureInfo.InvariantCulture) ?? "none"}",
        $"min-steps={MinStepsPerTrial?.ToString(CultureInfo.InvariantCulture) ?? "auto"}",
        $"eta={ReductionFactor.ToString(CultureInfo.InvariantCulture)}",
        $"objective={ObjectiveFor(task)}",
        $"runner={context}");

    private static void Require(bool condition, string option, string problem)
    {
        if (!condition)
        {
            throw new InvalidSweepOptionsException(option, problem);
        }
    }
}
