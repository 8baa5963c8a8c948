using Microsoft.ML.Lora.Sweeps;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Tests.Sweeps;

/// <summary>Bad sweep settings are refused with typed errors by the constructor, before any trial trains.</summary>
public class SweepValidationTests
{
    [Fact]
    public void EmptySpace_IsRefused()
    {
        var e = Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace()));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void EmptyChoiceList_NamesTheDimension()
    {
        var e = Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { Ranks = SearchRange.Of() }));
        Assert.Equal(nameof(LoraSearchSpace.Ranks), e.Dimension);
        Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { TargetModuleSets = [] }));
        Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { TargetModuleSets = ["q_proj,,v_proj"] }));
        Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { UseRsLora = [] }));
    }

    [Fact]
    public void InvertedRange_IsRefused()
    {
        var e = Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { LearningRates = SearchRange.LogUniform(1e-2, 1e-4) }));
        Assert.Equal(nameof(LoraSearchSpace.LearningRates), e.Dimension);
        Assert.Contains("inverted", e.Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    public void NonPositiveAlphaRatio_IsRefused(double ratio)
    {
        var e = Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { AlphaRatios = SearchRange.Of(1, ratio) }));
        Assert.Equal(nameof(LoraSearchSpace.AlphaRatios), e.Dimension);
    }

    [Fact]
    public void OutOfDomainValues_AreRefused()
    {
        Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { Ranks = SearchRange.Of(0, 4) }));
        Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { Ranks = SearchRange.Of(2.5) }));
        Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { Dropouts = SearchRange.Of(0, 1) }));
        Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { LearningRates = SearchRange.LogUniform(0, 1e-2) }));
        Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { LearningRates = SearchRange.Of(double.NaN) }));
        Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { Epochs = SearchRange.Uniform(1, 3, gridPoints: 0) }));
        Assert.Throws<InvalidSearchSpaceException>(() => Build(new LoraSearchSpace { Alphas = SearchRange.Of(8), AlphaRatios = SearchRange.Of(2) }));
    }

    [Theory]
    [InlineData(LoraTask.BinaryClassification, SweepMetric.Rmse)]
    [InlineData(LoraTask.BinaryClassification, SweepMetric.MacroAccuracy)]
    [InlineData(LoraTask.MulticlassClassification, SweepMetric.Auc)]
    [InlineData(LoraTask.Regression, SweepMetric.Accuracy)]
    [InlineData(LoraTask.CausalLanguageModel, SweepMetric.F1Score)]
    public void MetricThatDoesNotFitTheTask_IsRefused(LoraTask task, SweepMetric metric)
    {
        var options = new LoraSweepOptions { SearchSpace = SweepTestSpaces.IssueSpace, Objective = new SweepObjective(metric) };
        var e = Assert.Throws<SweepObjectiveException>(() => new LoraSweeper(options, task, SweepTestSpaces.Base));
        Assert.Equal(SweepMetrics.NameOf(metric), e.Metric);
    }

    [Fact]
    public void MetricNames_ParseAndUnknownOnesAreRefused()
    {
        Assert.Equal(SweepMetric.RSquared, SweepMetrics.Parse("R-Squared"));
        Assert.Equal(SweepMetric.F1Score, SweepMetrics.Parse("f1"));
        Assert.Equal(SweepMetric.MacroAccuracy, SweepMetrics.Parse("macro_accuracy"));
        Assert.True(SweepObjective.Parse("rmse") is { Maximize: false, Metric: SweepMetric.Rmse });
        var e = Assert.Throws<SweepObjectiveException>(() => SweepObjective.Parse("precision@5"));
        Assert.Contains("macro-accuracy", e.Message);
        Assert.All(Enum.GetValues<SweepMetric>(), m => Assert.Equal(m, SweepMetrics.Parse(SweepMetrics.NameOf(m))));
    }

    [Fact]
    public void BudgetsThatCannotRun_AreRefused()
    {
        Assert.Throws<InvalidSweepOptionsException>(() => Build(SweepTestSpaces.IssueSpace, o => o.MaxTrials = 0));
        Assert.Throws<InvalidSweepOptionsException>(() => Build(SweepTestSpaces.IssueSpace, o => o.TimeLimit = TimeSpan.Zero));
        Assert.Throws<InvalidSweepOptionsException>(() => Build(SweepTestSpaces.IssueSpace, o => o.MaxStepsPerTrial = 0));
        Assert.Throws<InvalidSweepOptionsException>(() => Build(SweepTestSpaces.IssueSpace, o => (o.Strategy, o.ReductionFactor) = (SweepStrategy.Asha, 1)));
        Assert.Throws<InvalidSweepOptionsException>(() => Build(SweepTestSpaces.IssueSpace, o => (o.Strategy, o.MaxStepsPerTrial) = (SweepStrategy.Asha, null)));
        Assert.Throws<InvalidSweepOptionsException>(() => Build(SweepTestSpaces.IssueSpace, o => (o.MinStepsPerTrial, o.MaxStepsPerTrial) = (100, 50)));
        Assert.Throws<InvalidSweepOptionsException>(() => Build(SweepTestSpaces.IssueSpace, o => o.KeepBestModels = 0));
        var continuous = new LoraSearchSpace { LearningRates = SearchRange.LogUniform(1e-4, 1e-2) };
        Assert.Throws<InvalidSweepOptionsException>(() => Build(continuous, o => o.Strategy = SweepStrategy.Random));
        Assert.Throws<InvalidSweepOptionsException>(() => new LoraSweeper(new LoraSweepOptions { SearchSpace = continuous }, LoraTask.Regression, SweepTestSpaces.Base with { Rank = 0 }));
    }

    [Theory]
    [InlineData("1,2,4,8,16", SearchRangeKind.Choices, 1, 16, 5)]
    [InlineData("1e-4..1e-2", SearchRangeKind.LogUniform, 1e-4, 1e-2, 3)]
    [InlineData(" 1e-4 .. 1e-2:5 ", SearchRangeKind.LogUniform, 1e-4, 1e-2, 5)]
    public void CommandLineRanges_Parse(string text, SearchRangeKind kind, double min, double max, int points)
    {
        var range = SearchRange.Parse(text, "lr", logScale: true);
        Assert.Equal((kind, min, max, points), (range.Kind, range.Min, range.Max, range.GridPoints));
    }

    [Theory]
    [InlineData("1,two,4")]
    [InlineData("1e-4..")]
    [InlineData("1e-4..1e-2:x")]
    public void MalformedCommandLineRanges_NameTheOption(string text)
    {
        var e = Assert.Throws<InvalidSearchSpaceException>(() => SearchRange.Parse(text, "--lr", logScale: true));
        Assert.Equal("--lr", e.Dimension);
        Assert.Contains(text, e.Message);
    }

    private static LoraSweeper Build(LoraSearchSpace space, Action<LoraSweepOptions>? change = null)
    {
        var options = SweepTestSpaces.Options(SweepStrategy.Grid, space);
        change?.Invoke(options);
        return SweepTestSpaces.Sweeper(options);
    }
}
