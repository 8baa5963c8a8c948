using Microsoft.ML.Lora.Sweeps;

namespace Microsoft.ML.Lora.Tests.Sweeps;

public class SweepPlanTests
{
    [Fact]
    public void Grid_VisitsEveryPointWithRankSlowestAndAlphaFromTheRatio()
    {
        var space = new LoraSearchSpace
        {
            Ranks = SearchRange.Of(1, 2),
            AlphaRatios = SearchRange.Of(1, 2),
            LearningRates = SearchRange.Of(1e-4, 1e-3),
        };
        var sweeper = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Grid, space));

        var expected = new (int Rank, double Alpha, double Lr)[]
        {
            (1, 1, 1e-4), (1, 1, 1e-3), (1, 2, 1e-4), (1, 2, 1e-3),
            (2, 2, 1e-4), (2, 2, 1e-3), (2, 4, 1e-4), (2, 4, 1e-3),
        };
        Assert.Equal(expected, sweeper.PlannedTrials.Select(t => (t.Rank, t.Alpha, t.LearningRate)).ToArray());
        // Dimensions the space leaves out keep the base settings.
        Assert.All(sweeper.PlannedTrials, t => Assert.Equal((LoraSearchSpace.QueryValue, 0.0, false, 1), (t.TargetModules, t.Dropout, t.UseRsLora, t.Epochs)));
    }

    [Fact]
    public void Grid_RunsTrialsInPlanOrderAtThePerTrialStepLimit()
    {
        var runner = new SyntheticTrialRunner();
        var result = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Grid, maxSteps: 50)).Run(runner);

        Assert.Equal(30, runner.Calls.Count);
        Assert.Equal(SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Grid)).PlannedTrials, runner.Calls.Select(c => c.Settings));
        Assert.All(runner.Calls, c => Assert.Equal(50, c.Budget));
        Assert.Equal(30 * 50, result.StepsSpent);
        Assert.Equal(SweepStopReason.Completed, result.StopReason);
    }

    [Fact]
    public void LogUniformRange_GridIsLogSpacedAndRanksRoundToWholeNumbers()
    {
        var rates = SearchRange.LogUniform(1e-4, 1e-2, gridPoints: 3).GridValues(integer: false);
        Assert.Equal(3, rates.Count);
        // Exactly the decimal values, not exp(log(x)) with drift in the last digits.
        Assert.Equal([1e-4, 1e-3, 1e-2], rates);
        Assert.Equal([1e-3, 0.00547722557505, 3e-2], SearchRange.LogUniform(1e-3, 3e-2).GridValues(integer: false));

        Assert.Equal([1.0, 2, 4, 8, 16], SearchRange.LogUniform(1, 16, gridPoints: 5).GridValues(integer: true));
        Assert.Equal([0.0, 0.05, 0.1], SearchRange.Uniform(0, 0.1).GridValues(integer: false).Select(v => Math.Round(v, 12)));
    }

    [Fact]
    public void Random_SameSeedGivesSameTrialsAndBitIdenticalResults()
    {
        var options = SweepTestSpaces.Options(SweepStrategy.Random);
        options.MaxTrials = 8;
        var first = SweepTestSpaces.Sweeper(options).Run(new SyntheticTrialRunner());
        var second = SweepTestSpaces.Sweeper(options).Run(new SyntheticTrialRunner());
        options.Seed = 8;
        var otherSeed = SweepTestSpaces.Sweeper(options).PlannedTrials;

        Assert.Equal(first.Evaluations.Select(e => (e.Settings, e.Metric)), second.Evaluations.Select(e => (e.Settings, e.Metric)));
        Assert.NotEqual(first.Evaluations.Select(e => e.Settings), otherSeed);
        // A finite space is shuffled, not sampled with replacement: no point repeats.
        Assert.Equal(8, first.Evaluations.Select(e => e.Settings).Distinct().Count());
    }

    [Fact]
    public void Random_LargerTrialBudgetExtendsTheSameSequence()
    {
        var options = SweepTestSpaces.Options(SweepStrategy.Random);
        options.SearchSpace.LearningRates = SearchRange.LogUniform(1e-5, 1e-1);
        options.MaxTrials = 5;
        var five = SweepTestSpaces.Sweeper(options).PlannedTrials;
        options.MaxTrials = 12;
        var twelve = SweepTestSpaces.Sweeper(options).PlannedTrials;

        Assert.Equal(five, twelve.Take(5));
        Assert.All(twelve, t => Assert.InRange(t.LearningRate, 1e-5, 1e-1));
        Assert.Equal(12, twelve.Distinct().Count());
    }

    [Fact]
    public void MaxTrials_BoundsTheGrid()
    {
        var options = SweepTestSpaces.Options(SweepStrategy.Grid);
        options.MaxTrials = 4;
        var runner = new SyntheticTrialRunner();
        var result = SweepTestSpaces.Sweeper(options).Run(runner);

        Assert.Equal(4, runner.Calls.Count);
        Assert.Equal(4, result.FinalResults.Count);
    }

    [Fact]
    public void TimeLimit_EndsTheSweepBeforeTheNextTrialAndKeepsWhatFinished()
    {
        var clock = new ManualClock();
        var options = SweepTestSpaces.Options(SweepStrategy.Grid);
        options.TimeLimit = TimeSpan.FromSeconds(400);
        var runner = new SyntheticTrialRunner(clock, secondsPerStep: TimeSpan.FromSeconds(1));
        var result = SweepTestSpaces.Sweeper(options, clock).Run(runner);

        // Each trial takes 90 fake seconds: trials start at 0, 90, 180, 270, 360; the sixth would start at 450 > 400.
        Assert.Equal(5, runner.Calls.Count);
        Assert.Equal(SweepStopReason.TimeLimit, result.StopReason);
        Assert.Equal(5, result.Evaluations.Count);
        Assert.All(result.Evaluations, e => Assert.Equal(90, e.Seconds, 9));
    }

    [Fact]
    public void EpochsEndATrialBeforeAnUnlimitedStepBudget()
    {
        var space = new LoraSearchSpace { Epochs = SearchRange.Of(1, 2) };
        var runner = new SyntheticTrialRunner();
        var result = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Grid, space, maxSteps: null)).Run(runner);

        Assert.All(runner.Calls, c => Assert.Equal(long.MaxValue, c.Budget));
        Assert.Equal([SyntheticTrialRunner.StepsPerEpoch, 2 * SyntheticTrialRunner.StepsPerEpoch], result.Evaluations.Select(e => e.Steps));
    }
}
