using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Training;

public class NonFiniteGuardTests
{
    /// <summary>Classification loss, except that forward pass number <paramref name="poisonedCall"/> returns NaN.</summary>
    private sealed class PoisonedObjective(int poisonedCall) : TaskObjective
    {
        private readonly ClassificationObjective _inner = new();
        private int _calls;

        public override Tensor Loss(PretrainedModel model, TrainingBatch batch)
        {
            var loss = _inner.Loss(model, batch);
            return ++_calls == poisonedCall ? loss * double.NaN : loss;
        }
    }

    private static FineTuningSettings Settings(NonFiniteStepAction action, long? maxSteps = null) => new()
    {
        Epochs = 1, BatchSize = 4, LearningRate = 1e-2, LengthBucketing = false, Seed = 3,
        Schedule = LearningRateScheduleKind.Constant, NonFiniteSteps = action, MaxSteps = maxSteps,
    };

    [Fact]
    public void NaNLossStopsWithTypedErrorKeepingTheLastGoodWeightsAndCheckpoint()
    {
        var rows = LoopTestModels.EqualLengthRows(24);
        Dictionary<string, float[]> afterTwoSteps;
        using (var clean = LoopTestModels.Classifier())
        {
            new FineTuningLoop(clean, new ClassificationObjective(), Settings(NonFiniteStepAction.Stop, maxSteps: 2), 0, CPU).Run(rows, null);
            afterTwoSteps = LoopTestModels.Trainable(clean);
        }

        using var folder = new TempDirectory();
        using var model = LoopTestModels.Classifier();
        var loop = new FineTuningLoop(model, new PoisonedObjective(poisonedCall: 3), Settings(NonFiniteStepAction.Stop), 0, CPU)
        {
            Checkpoints = new AdapterCheckpointDirectory(folder.Path),
            CheckpointInterval = 1,
        };
        var error = Assert.Throws<NonFiniteTrainingException>(() => loop.Run(rows, null));

        Assert.Equal(3, error.Step);
        Assert.Equal(1, error.Epoch);
        Assert.True(double.IsNaN(error.Loss));
        Assert.Equal(2, error.LastCheckpointStep);
        Assert.Contains("Training step 3 (epoch 1) produced a non-finite loss (NaN)", error.Message, StringComparison.Ordinal);
        Assert.Contains("the last checkpoint (step 2) is intact", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, LoopTestModels.MaxDifference(afterTwoSteps, LoopTestModels.Trainable(model)));
        Assert.Equal(["checkpoint-1", "checkpoint-2"], Directory.GetDirectories(folder.Path).Select(Path.GetFileName).Order());

        // The kept checkpoint resumes: it holds the two good steps' weights.
        using var resumed = LoopTestModels.Classifier();
        new FineTuningLoop(resumed, new ClassificationObjective(), Settings(NonFiniteStepAction.Stop, maxSteps: 2), 0, CPU)
        {
            Checkpoints = new AdapterCheckpointDirectory(folder.Path),
        }.Run(rows, null);
        Assert.Equal(0, LoopTestModels.MaxDifference(afterTwoSteps, LoopTestModels.Trainable(resumed)));
    }

    [Fact]
    public void SkipDropsTheNonFiniteStepAndTrainsOn()
    {
        var rows = LoopTestModels.EqualLengthRows(24);
        using var model = LoopTestModels.Classifier();
        var reports = new List<FineTuningProgress>();
        var result = new FineTuningLoop(model, new PoisonedObjective(poisonedCall: 3), Settings(NonFiniteStepAction.Skip), 0, CPU)
        {
            Progress = reports.Add,
        }.Run(rows, null);

        Assert.Equal(6, result.Steps);
        Assert.Equal(1, result.SkippedSteps);
        Assert.True(double.IsFinite(result.FinalTrainLoss));
        Assert.All(LoopTestModels.Trainable(model).Values, v => Assert.All(v, x => Assert.True(float.IsFinite(x))));
    }

    [Fact]
    public void HugeLearningRateEndsInTheTypedErrorWithFiniteWeights()
    {
        var rows = LoopTestModels.EqualLengthRows(24);
        using var model = LoopTestModels.Classifier();
        var settings = Settings(NonFiniteStepAction.Stop);
        settings.LearningRate = 1e36;
        settings.Epochs = 5;
        var error = Assert.Throws<NonFiniteTrainingException>(() => new FineTuningLoop(model, new ClassificationObjective(), settings, 0, CPU).Run(rows, null));
        Assert.Contains("Lower the learning rate", error.Message, StringComparison.Ordinal);
        Assert.All(LoopTestModels.Trainable(model).Values, v => Assert.All(v, x => Assert.True(float.IsFinite(x))));
    }
}
