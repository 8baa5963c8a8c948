using Microsoft.ML.Lora.Sweeps;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Tests.Sweeps;

/// <summary>Search spaces and settings shared by the sweep tests.</summary>
internal static class SweepTestSpaces
{
    public static TrialSettings Base => new() { Rank = 8, Alpha = 16, LearningRate = 1e-3 };

    /// <summary>The issue's sweep: r ∈ {1,2,4,8,16} × α/r ∈ {1,2} × 3 learning rates = 30 trials.</summary>
    public static LoraSearchSpace IssueSpace => new()
    {
        Ranks = SearchRange.Of(1, 2, 4, 8, 16),
        AlphaRatios = SearchRange.Of(1, 2),
        LearningRates = SearchRange.LogUniform(1e-4, 1e-2, gridPoints: 3),
    };

    public static LoraSweepOptions Options(SweepStrategy strategy, LoraSearchSpace? space = null, long? maxSteps = 90) => new()
    {
        SearchSpace = space ?? IssueSpace,
        Strategy = strategy,
        Objective = new SweepObjective(SweepMetric.Accuracy),
        MaxStepsPerTrial = maxSteps,
        Seed = 7,
    };

    public static LoraSweeper Sweeper(LoraSweepOptions options, TimeProvider? clock = null) =>
        new(options, LoraTask.BinaryClassification, Base, "synthetic", clock);
}
