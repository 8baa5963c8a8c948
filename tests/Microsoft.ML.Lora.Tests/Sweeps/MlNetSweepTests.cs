using Microsoft.ML;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Sweeps;
using Microsoft.ML.Lora.Tests.MLNet;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Tests.Sweeps;

/// <summary>
/// A real sweep, kept small for the suite: the pretrained stories260K Llama as the shared base, 160 SMS-spam
/// rows to train on and 100 to validate, r ∈ {1, 8} × lr ∈ {1e-3, 1e-2} at α = 2r, 20 steps per trial.
/// (The full 30-trial figure is measured by samples/SweepSmsSpam.)
/// </summary>
public sealed class MlNetSweepTests : IClassFixture<MlNetSweepTests.SmallSweep>
{
    private readonly SmallSweep _sweep;

    public MlNetSweepTests(SmallSweep sweep) => _sweep = sweep;

    /// <summary>The sweep, run once for the tests of this class.</summary>
    public sealed class SmallSweep : IDisposable
    {
        public TempDirectory Dir { get; } = new();
        public MLContext Ml { get; } = new(seed: 1);
        public IDataView Train { get; }
        public IDataView Validation { get; }
        public LoraFineTuneOptions BaseOptions { get; }
        public LoraSweepOptions SweepOptions { get; }
        public LoraSweepResult Result { get; }

        public SmallSweep()
        {
            var rows = RealDataSets.Shuffled(RealDataSets.SmsSpam(), seed: 11);
            Train = Ml.Data.LoadFromEnumerable(rows.Take(160));
            Validation = Ml.Data.LoadFromEnumerable(rows.Skip(160).Take(100));
            BaseOptions = Options(Stories260K.Folder);
            SweepOptions = Sweep(Path.Combine(Dir.Path, "run", SweepOutputFiles.Json));
            Result = Ml.Lora().CreateSweep(LoraTask.BinaryClassification, BaseOptions, SweepOptions).Execute(Train, Validation);
        }

        public static LoraFineTuneOptions Options(string baseFolder) => new()
        {
            BaseModelPath = baseFolder,
            NumberOfEpochs = 1,
            BatchSize = 8,
            MaxSequenceLength = 32,
            Seed = 5,
        };

        public static LoraSweepOptions Sweep(string resultsFile) => new()
        {
            SearchSpace = new LoraSearchSpace
            {
                Ranks = SearchRange.Of(1, 8),
                AlphaRatios = SearchRange.Of(2),
                LearningRates = SearchRange.Of(1e-3, 1e-2),
            },
            Objective = new SweepObjective(SweepMetric.Accuracy),
            MaxStepsPerTrial = 20,
            KeepBestModels = 2,
            ResultsFile = resultsFile,
        };

        public void Dispose()
        {
            Result.Dispose();
            Dir.Dispose();
        }
    }

    [Fact]
    public void TableHoldsEveryTrialAndTheBestIsTheTopRow()
    {
        var run = _sweep.Result.Run;
        Assert.Equal(
            [(1, 2.0, 1e-3), (1, 2.0, 1e-2), (8, 16.0, 1e-3), (8, 16.0, 1e-2)],
            run.Evaluations.Select(e => (e.Settings.Rank, e.Settings.Alpha, e.Settings.LearningRate)));
        Assert.All(run.Evaluations, e => Assert.Equal((20L, 20L), (e.Steps, e.StepsSpent)));
        Assert.All(run.Evaluations, e => Assert.InRange(e.Metrics["auc"], 0, 1));
        Assert.Equal(run.Evaluations.Max(e => e.Metric), _sweep.Result.BestTrial!.Metric);
        Assert.Equal(2, _sweep.Result.BestModels.Count);
        Assert.Equal(80, run.StepsSpent);
    }

    [Fact]
    public void BestModelsMetricAfterSaveAndLoadEqualsTheTables()
    {
        var zip = Path.Combine(_sweep.Dir.Path, "best.zip");
        _sweep.Result.SaveBestModel(zip, _sweep.Train.Schema);
        var ml = new MLContext(seed: 3).RegisterLora();
        var loaded = ml.Model.Load(zip, out _);
        try
        {
            var metrics = _sweep.Result.Evaluate(loaded, _sweep.Validation);
            var recorded = _sweep.Result.BestTrial!;
            Assert.Equal(recorded.Metric, metrics[SweepMetric.Accuracy]);
            Assert.Equal(recorded.Metrics["auc"], metrics[SweepMetric.Auc], 1e-6);
            Assert.Equal(recorded.Metrics["loss"], metrics[SweepMetric.Loss], 1e-6);
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void ResumedSweepTrainsOnlyTheBestAgainAndReproducesItBitForBit()
    {
        var options = SmallSweep.Sweep(_sweep.SweepOptions.ResultsFile!);
        using var resumed = _sweep.Ml.Lora().CreateSweep(LoraTask.BinaryClassification, SmallSweep.Options(_sweep.BaseOptions.BaseModelPath!), options)
            .Execute(_sweep.Train, _sweep.Validation);

        Assert.Equal(4, resumed.Run.ResumedEvaluations);
        Assert.Equal(_sweep.Result.BestTrial!.Settings, resumed.BestTrial!.Settings);
        // The best trial's model was retrained from scratch in a new process state: same seed, same numbers.
        var again = resumed.Evaluate(resumed.BestModel!, _sweep.Validation);
        Assert.Equal(_sweep.Result.BestTrial.Metrics["accuracy"], again[SweepMetric.Accuracy]);
        Assert.Equal(_sweep.Result.BestTrial.Metrics["loss"], again[SweepMetric.Loss]);
    }

    [Fact]
    public void TimeLimitInterruptsTheRunningTrialAndEndsTheSweep()
    {
        var options = SmallSweep.Options(_sweep.BaseOptions.BaseModelPath!);
        options.NumberOfEpochs = 50; // far longer than the limit, so only an interruption ends it
        var sweep = SmallSweep.Sweep(Path.Combine(_sweep.Dir.Path, "time-limited.json"));
        (sweep.MaxStepsPerTrial, sweep.TimeLimit) = (null, TimeSpan.FromSeconds(2));

        using var result = _sweep.Ml.Lora().CreateSweep(LoraTask.BinaryClassification, options, sweep).Execute(_sweep.Train, _sweep.Validation);

        Assert.Equal(SweepStopReason.TimeLimit, result.Run.StopReason);
        Assert.Empty(result.Run.Evaluations);
        Assert.Null(result.BestModel);
    }

    [Fact]
    public void ObjectiveThatDoesNotFitTheTaskFailsBeforeAnyModelIsLoaded()
    {
        var options = SmallSweep.Sweep(Path.Combine(_sweep.Dir.Path, "unused.json"));
        options.Objective = new SweepObjective(SweepMetric.Rmse);
        var missingBase = SmallSweep.Options(Path.Combine(_sweep.Dir.Path, "no-such-model"));

        Assert.Throws<SweepObjectiveException>(() => _sweep.Ml.Lora().CreateSweep(LoraTask.BinaryClassification, missingBase, options));
        options.Objective = null;
        options.SearchSpace.LearningRates = SearchRange.LogUniform(1e-2, 1e-4);
        Assert.Throws<InvalidSearchSpaceException>(() => _sweep.Ml.Lora().CreateSweep(LoraTask.BinaryClassification, missingBase, options));
    }
}
