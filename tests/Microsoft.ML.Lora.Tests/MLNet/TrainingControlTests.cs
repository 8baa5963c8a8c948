using Microsoft.ML;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>Progress, cancellation, checkpoints/resume and early stopping inside Fit.</summary>
public sealed class TrainingControlTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _base;

    public TrainingControlTests() => _base = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(_dir.Path, "base"));

    public void Dispose() => _dir.Dispose();

    private sealed class Recorder : IProgress<FineTuningProgress>
    {
        public List<FineTuningProgress> Reports { get; } = [];
        public Action<FineTuningProgress>? OnReport { get; set; }

        public void Report(FineTuningProgress value)
        {
            Reports.Add(value);
            OnReport?.Invoke(value);
        }
    }

    private LoraFineTuneOptions Options(IProgress<FineTuningProgress>? progress = null) => new()
    {
        BaseModelPath = _base, NumberOfEpochs = 2, BatchSize = 8, LearningRate = 5e-3, Progress = progress,
    };

    [Fact]
    public void ProgressReachesTheCallbackAndMlContextLog()
    {
        var ml = new MLContext(seed: 1);
        var messages = new List<string>();
        ml.Log += (_, e) => { lock (messages) { messages.Add(e.Message); } };
        var recorder = new Recorder();
        var data = ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, 1));
        using var model = ml.BinaryClassification.Trainers.LoraFineTune(Options(recorder)).Fit(data);
        Assert.Equal(8, recorder.Reports.Count); // 32 rows / 8 per batch × 2 epochs
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), recorder.Reports.Select(r => r.Step));
        Assert.All(recorder.Reports, r => Assert.True(double.IsFinite(r.Loss) && r.TokensPerSecond > 0));
        lock (messages)
        {
            Assert.Contains(messages, m => m.Contains("step 8/8", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void WithoutACallbackFitShowsProgressOnStandardErrorUnlessTurnedOff()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, 1));
        var error = Console.Error;
        using var shown = new StringWriter();
        using var silent = new StringWriter();
        try
        {
            Console.SetError(shown);
            using (ml.BinaryClassification.Trainers.LoraFineTune(Options()).Fit(data)) { }
            Console.SetError(silent);
            var quiet = Options();
            quiet.ShowProgress = false;
            using (ml.BinaryClassification.Trainers.LoraFineTune(quiet).Fit(data)) { }
        }
        finally
        {
            Console.SetError(error);
        }
        var lines = shown.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("[lora", StringComparison.Ordinal) && l.Contains("step 1/8", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("step 8/8", StringComparison.Ordinal));
        Assert.Equal("", silent.ToString());
    }

    [Fact]
    public void ConsoleProgressWritesTheFirstAndLastStepAndValidationsButThrottlesTheRest()
    {
        using var writer = new StringWriter();
        var progress = new ConsoleProgress(writer, TimeSpan.FromHours(1));
        for (int step = 1; step <= 10; step++)
        {
            progress.Report(new FineTuningProgress(1, step, 10, 0.5, 100));
        }
        progress.Report(new FineTuningProgress(1, 10, 10, 0.5, 0, ValidationLoss: 0.25, ValidationAccuracy: 0.9));

        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("step 1/10 loss 0.5000 100 tok/s", lines[0]);
        Assert.Contains("step 10/10", lines[1]);
        Assert.Contains("valid loss 0.2500 valid acc 90.00", lines[2]);
    }

    [Fact]
    public void CancelExecutionStopsWithinAStepAndLeavesNoPartialCheckpoint()
    {
        var ml = new MLContext(seed: 1);
        var recorder = new Recorder { OnReport = r => { if (r.Step == 2) { ml.CancelExecution(); } } };
        var options = Options(recorder);
        options.CheckpointDirectory = Path.Combine(_dir.Path, "ckpt");
        options.CheckpointInterval = 1;
        var data = ml.Data.LoadFromEnumerable(SentimentRows.Binary(64, 1));
        Assert.ThrowsAny<OperationCanceledException>(() => ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(data));
        Assert.Equal(2, recorder.Reports.Count);
        var entries = Directory.GetFileSystemEntries(options.CheckpointDirectory).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(["checkpoint-1", "checkpoint-2"], entries);
    }

    [Fact]
    public void ResumingFromACheckpointGivesTheUninterruptedResult()
    {
        var rows = SentimentRows.Binary(48, 2);
        float Train(string? checkpoints, Action<MLContext, FineTuningProgress>? interrupt)
        {
            var ml = new MLContext(seed: 4);
            var recorder = new Recorder();
            recorder.OnReport = r => interrupt?.Invoke(ml, r);
            var options = Options(recorder);
            options.Seed = 9;
            options.CheckpointDirectory = checkpoints;
            options.CheckpointInterval = 3;
            using var model = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(ml.Data.LoadFromEnumerable(rows));
            var engine = ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, ScoreOnly>(model);
            return engine.Predict(new SentimentRows.BinaryRow { Text = "the hotel was lovely" }).Score;
        }

        float uninterrupted = Train(null, null);
        var dir = Path.Combine(_dir.Path, "resume");
        Assert.ThrowsAny<OperationCanceledException>(() => Train(dir, (ml, r) => { if (r.Step == 7) { ml.CancelExecution(); } }));
        Assert.True(Directory.Exists(Path.Combine(dir, "checkpoint-6")));
        float resumed = Train(dir, null);
        Assert.Equal(uninterrupted, resumed, 4);
    }

    private sealed class ScoreOnly
    {
        public float Score { get; set; }
    }

    [Fact]
    public void EarlyStoppingStopsWhenValidationStopsImproving()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(16, 1));
        // Validation labels are noise: the validation loss cannot keep improving.
        var valid = ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, 5).Select((r, i) => new SentimentRows.BinaryRow { Text = r.Text, Label = i % 3 == 0 }));
        var options = Options();
        options.NumberOfEpochs = 30;
        options.LearningRate = 2e-2;
        options.EarlyStoppingPatience = 2;
        options.ValidationSet = valid;
        using var model = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(train);
        Assert.True(model.TrainingResult!.StoppedEarly);
        Assert.True(model.TrainingResult.Epochs < 30);
        Assert.NotNull(model.TrainingResult.BestValidationLoss);
    }
}
