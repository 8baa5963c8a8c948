using Microsoft.ML.Lora.Sweeps;

namespace Microsoft.ML.Lora.Tests.Sweeps;

public class SuccessiveHalvingTests
{
    [Fact]
    public void DefaultRungs_GrowByEtaUpToTheStepLimitAndKeepAThirdEachTime()
    {
        var sweeper = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Asha));

        Assert.Equal([10L, 30, 90], sweeper.RungStepBudgets);
        Assert.Equal([30, 10, 3], sweeper.RungTrialCounts);
    }

    [Theory]
    [InlineData(114L, null, 3, new long[] { 12, 38, 114 }, new[] { 30, 10, 3 })]
    [InlineData(114L, 10L, 3, new long[] { 12, 38, 114 }, new[] { 30, 10, 3 })]
    [InlineData(114L, 2L, 3, new long[] { 4, 12, 38, 114 }, new[] { 30, 10, 3, 1 })]
    [InlineData(5L, null, 3, new long[] { 1, 5 }, new[] { 30, 10 })]
    [InlineData(1L, null, 3, new long[] { 1 }, new[] { 30 })]
    public void RungsAreCountedDownFromTheStepLimit(long maxSteps, long? minSteps, int eta, long[] budgets, int[] counts)
    {
        var options = SweepTestSpaces.Options(SweepStrategy.Asha, maxSteps: maxSteps);
        (options.MinStepsPerTrial, options.ReductionFactor) = (minSteps, eta);
        var sweeper = SweepTestSpaces.Sweeper(options);

        Assert.Equal(budgets, sweeper.RungStepBudgets);
        Assert.Equal(counts, sweeper.RungTrialCounts);
    }

    [Fact]
    public void EachRungPromotesTheTopThirdByTheLowerRungsMetric()
    {
        var runner = new SyntheticTrialRunner();
        var result = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Asha)).Run(runner);

        for (var rung = 1; rung < 3; rung++)
        {
            var below = result.Evaluations.Where(e => e.Rung == rung - 1).ToArray();
            var promoted = result.Evaluations.Where(e => e.Rung == rung).Select(e => e.Trial).ToHashSet();
            // Ranking by the synthetic quality (known independently) equals ranking by the short-run accuracy.
            var expected = below.OrderByDescending(e => SyntheticTrialRunner.Quality(e.Settings)).ThenBy(e => e.Trial)
                .Take(below.Length / 3).Select(e => e.Trial).ToHashSet();
            Assert.Equal(expected, promoted);
        }
        // Promoted trials continue from their model rather than starting over.
        Assert.All(runner.Calls.Where(c => c.Budget > 10), c => Assert.True(c.ResumedSteps > 0));
    }

    [Fact]
    public void ReachesTheGridsBestWithinOnePointOnAtMost40PercentOfTheSteps()
    {
        var grid = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Grid)).Run(new SyntheticTrialRunner());
        var asha = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Asha)).Run(new SyntheticTrialRunner());

        Assert.Equal(30 * 90, grid.StepsSpent);
        // 30 trials × 10 steps + 10 × (30 − 10) + 3 × (90 − 30) = 680 steps.
        Assert.Equal(680, asha.StepsSpent);
        Assert.True(asha.StepsSpent <= 0.4 * grid.StepsSpent);
        Assert.InRange(grid.Best!.Metric - asha.Best!.Metric, -0.01, 0.01);
        var bestByQuality = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Grid)).PlannedTrials.MaxBy(SyntheticTrialRunner.Quality);
        Assert.Equal(bestByQuality, asha.Best.Settings);
        Assert.Equal(SyntheticTrialRunner.Accuracy(bestByQuality!, 90), asha.Best.Metric);
    }

    [Fact]
    public void MinimisedObjectivePromotesTheLowestLoss()
    {
        var options = SweepTestSpaces.Options(SweepStrategy.Asha);
        options.Objective = new SweepObjective(SweepMetric.Loss);
        var result = SweepTestSpaces.Sweeper(options).Run(new SyntheticTrialRunner());

        Assert.False(result.Objective.Maximize);
        Assert.Equal(result.FinalResults.Min(e => e.Metric), result.Best!.Metric);
        Assert.Equal(3, result.Evaluations.Count(e => e.Rung == 2));
        Assert.Equal(SweepTestSpaces.Sweeper(options).PlannedTrials.MaxBy(SyntheticTrialRunner.Quality), result.Best.Settings);
    }

    [Fact]
    public void ExplicitFirstRungAndEta()
    {
        var options = SweepTestSpaces.Options(SweepStrategy.Asha, maxSteps: 100);
        options.MinStepsPerTrial = 25;
        options.ReductionFactor = 2;
        var sweeper = SweepTestSpaces.Sweeper(options);

        Assert.Equal([25L, 50, 100], sweeper.RungStepBudgets);
        Assert.Equal([30, 15, 7], sweeper.RungTrialCounts);
    }

    [Fact]
    public void KeepsTheBestModelsAndDisposesTheRest()
    {
        var options = SweepTestSpaces.Options(SweepStrategy.Asha);
        options.KeepBestModels = 2;
        var runner = new SyntheticTrialRunner();
        var result = SweepTestSpaces.Sweeper(options).Run(runner);

        Assert.Equal(2, result.BestModels.Count);
        var best = Assert.IsType<SyntheticTrialRunner.FakeModel>(result.BestModels[0].Model);
        Assert.Equal(result.Best!.Settings, best.Settings);
        Assert.Equal(90, best.Steps);
        var kept = result.BestModels.Select(m => m.Model).ToHashSet();
        Assert.All(runner.Models, m => Assert.Equal(!kept.Contains(m), m.Disposed));
    }

    [Fact]
    public void ADivergedTrialIsNeverBestOrPromoted()
    {
        var runner = new DivergingRunner(new SyntheticTrialRunner(), diverges: s => s.Rank == 8);
        var result = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Asha)).Run(runner);

        Assert.Contains(result.Evaluations, e => double.IsNaN(e.Metric));
        Assert.DoesNotContain(result.Evaluations, e => e.Rung > 0 && e.Settings.Rank == 8);
        Assert.NotEqual(8, result.Best!.Settings.Rank);
    }

    [Fact]
    public void TiesOnTheObjectiveArePromotedByValidationLoss()
    {
        // Every trial scores the same accuracy (a small validation set where all predict the majority class);
        // the loss still tells the trials apart, and promotion must follow it, not the trial number.
        var runner = new FlatAccuracyRunner(new SyntheticTrialRunner());
        var result = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Asha)).Run(runner);

        var rung0 = result.Evaluations.Where(e => e.Rung == 0).ToArray();
        var expected = rung0.OrderBy(e => e.Metrics["loss"]).Take(10).Select(e => e.Trial).Order();
        Assert.Equal(expected, result.Evaluations.Where(e => e.Rung == 1).Select(e => e.Trial));
        Assert.NotEqual(Enumerable.Range(1, 10), expected);
        Assert.Equal(SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Grid)).PlannedTrials.MaxBy(SyntheticTrialRunner.Quality), result.Best!.Settings);
    }

    private sealed class FlatAccuracyRunner(SyntheticTrialRunner inner) : ISweepTrialRunner
    {
        public TrialOutcome Run(TrialSettings settings, long stepBudget, TrialOutcome? resumeFrom, CancellationToken cancellationToken)
        {
            var outcome = inner.Run(settings, stepBudget, resumeFrom, cancellationToken);
            return new TrialOutcome
            {
                Metrics = new Dictionary<SweepMetric, double> { [SweepMetric.Accuracy] = 0.82, [SweepMetric.Loss] = outcome.Metrics[SweepMetric.Loss] },
                TotalSteps = outcome.TotalSteps,
                StepsTrained = outcome.StepsTrained,
                Model = outcome.Model,
            };
        }
    }

    private sealed class DivergingRunner(SyntheticTrialRunner inner, Func<TrialSettings, bool> diverges) : ISweepTrialRunner
    {
        public TrialOutcome Run(TrialSettings settings, long stepBudget, TrialOutcome? resumeFrom, CancellationToken cancellationToken)
        {
            var outcome = inner.Run(settings, stepBudget, resumeFrom, cancellationToken);
            return diverges(settings)
                ? new TrialOutcome { Metrics = new Dictionary<SweepMetric, double> { [SweepMetric.Accuracy] = double.NaN }, TotalSteps = outcome.TotalSteps, StepsTrained = outcome.StepsTrained }
                : outcome;
        }
    }
}
