using Microsoft.ML.Lora.Sweeps;

namespace Microsoft.ML.Lora.Tests.Sweeps;

public sealed class SweepResumeTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sweep-resume-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData(SweepStrategy.Grid, 11)]
    [InlineData(SweepStrategy.Asha, 34)]
    public void ResumeAfterInterruption_SkipsFinishedTrialsAndMatchesAnUninterruptedRun(SweepStrategy strategy, int interruptAfter)
    {
        var options = SweepTestSpaces.Options(strategy);
        var uninterrupted = SweepTestSpaces.Sweeper(options).Run(new SyntheticTrialRunner());
        options.ResultsFile = Path.Combine(_folder, "results.json");

        using var interruption = new CancellationTokenSource();
        var first = new SyntheticTrialRunner { InterruptAfter = (interruptAfter, interruption) };
        Assert.ThrowsAny<OperationCanceledException>(() => SweepTestSpaces.Sweeper(options).Run(first, null, interruption.Token));
        Assert.Equal(interruptAfter, SweepResultsFile.Read(options.ResultsFile).Count);

        var second = new SyntheticTrialRunner();
        var resumed = SweepTestSpaces.Sweeper(options).Run(second);

        Assert.Equal(interruptAfter, resumed.ResumedEvaluations);
        Assert.Equal(uninterrupted.Evaluations.Count - interruptAfter, second.Calls.Count);
        var finished = first.Calls.Select(c => (c.Settings, c.Budget)).ToHashSet();
        Assert.DoesNotContain(second.Calls, c => finished.Contains((c.Settings, c.Budget)));
        Assert.Equal(uninterrupted.Evaluations.Select(e => (e.Trial, e.Rung, e.Settings, e.Metric, e.Steps)),
            resumed.Evaluations.Select(e => (e.Trial, e.Rung, e.Settings, e.Metric, e.Steps)));
        Assert.Equal(uninterrupted.Best!.Settings, resumed.Best!.Settings);
        Assert.Equal(resumed.Evaluations.Count, SweepResultsFile.Read(options.ResultsFile).Count);
    }

    [Fact]
    public void BestTrialFinishedBeforeTheInterruption_IsRetrainedSoItsModelIsReturned()
    {
        var options = SweepTestSpaces.Options(SweepStrategy.Grid);
        options.ResultsFile = Path.Combine(_folder, "results.json");
        SweepTestSpaces.Sweeper(options).Run(new SyntheticTrialRunner());

        var again = new SyntheticTrialRunner();
        var result = SweepTestSpaces.Sweeper(options).Run(again);

        Assert.Equal(30, result.ResumedEvaluations);
        var retrained = Assert.Single(again.Calls);
        Assert.Equal((result.Best!.Settings, 90L), (retrained.Settings, retrained.Budget));
        Assert.Same(again.Models[0], result.BestModels[0].Model);
    }

    [Fact]
    public void ResultsFileOfAnotherSweep_IsRefused()
    {
        var options = SweepTestSpaces.Options(SweepStrategy.Random);
        options.MaxTrials = 3;
        options.ResultsFile = Path.Combine(_folder, "results.json");
        SweepTestSpaces.Sweeper(options).Run(new SyntheticTrialRunner());
        options.Seed++;

        var e = Assert.Throws<SweepResultsFileException>(() => SweepTestSpaces.Sweeper(options).Run(new SyntheticTrialRunner()));
        Assert.Equal(options.ResultsFile, e.FilePath);
        Assert.Contains("different sweep", e.Message);
    }

    [Fact]
    public void E043_CorruptSweepResultsFileIsRefusedWithItsPath()
    {
        var path = Path.Combine(_folder, "results.json");
        File.WriteAllText(path, "{\"format\": \"mllora-sweep-results/1\", \"evaluations\": [ {\"trial\": 1");
        var e = Assert.Throws<SweepResultsFileException>(() => SweepResultsFile.Read(path));
        Assert.Equal(path, e.FilePath);
        File.WriteAllText(path, "{\"format\": \"something-else\", \"evaluations\": []}");
        Assert.Throws<SweepResultsFileException>(() => SweepResultsFile.Read(path));
    }

    [Fact]
    public void ResultsFile_RoundTripsEveryFieldIncludingNaN()
    {
        var record = new SweepTrialRecord
        {
            Trial = 3,
            Rung = 1,
            Settings = SweepTestSpaces.Base with { LearningRate = 1.0 / 3, UseRsLora = true, TargetModules = LoraSearchSpace.AllLinear },
            Metric = double.NaN,
            Metrics = new() { ["accuracy"] = double.NaN, ["loss"] = 0.1 + 0.2 },
            Steps = 30,
            StepsSpent = 20,
            Seconds = 1.5,
        };
        var path = Path.Combine(_folder, "results.json");
        SweepResultsFile.Write(path, "sweep", new SweepObjective(SweepMetric.Accuracy), [record]);

        var read = Assert.Single(SweepResultsFile.Read(path, "sweep"));
        Assert.Equal(record.Settings, read.Settings);
        Assert.True(double.IsNaN(read.Metric));
        Assert.Equal(0.1 + 0.2, read.Metrics["loss"]);
        Assert.Equal((3, 1, 30L, 20L, 1.5), (read.Trial, read.Rung, read.Steps, read.StepsSpent, read.Seconds));
    }
}
