using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Training;

public class CheckpointResumeTests
{
    private static FineTuningSettings Settings(int seed, long? maxSteps = null) => new()
    {
        Epochs = 2, BatchSize = 4, LearningRate = 1e-2, LengthBucketing = false, Seed = seed, MaxSteps = maxSteps,
    };

    [Fact]
    public void ACheckpointOfADifferentRunIsRefused()
    {
        var rows = LoopTestModels.EqualLengthRows(16);
        using var folder = new TempDirectory();
        using (var model = LoopTestModels.Classifier())
        {
            new FineTuningLoop(model, new ClassificationObjective(), Settings(seed: 1), 0, CPU)
            {
                Checkpoints = new AdapterCheckpointDirectory(folder.Path), CheckpointInterval = 2,
            }.Run(rows, null);
        }
        using var other = LoopTestModels.Classifier();
        var error = Assert.Throws<TrainingCheckpointMismatchException>(() => new FineTuningLoop(other, new ClassificationObjective(), Settings(seed: 2), 0, CPU)
        {
            Checkpoints = new AdapterCheckpointDirectory(folder.Path),
        }.Run(rows, null));
        Assert.Equal(8, error.Step);
        Assert.Contains("seed=1", error.CheckpointRun, StringComparison.Ordinal);
        Assert.Contains("seed=2", error.ThisRun, StringComparison.Ordinal);
        Assert.Contains("different run", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AResumedRunMatchesAnUninterruptedOneAndLeavesNoTemporaryFolders()
    {
        var rows = LoopTestModels.EqualLengthRows(16);
        Dictionary<string, float[]> straight;
        using (var model = LoopTestModels.Classifier())
        {
            new FineTuningLoop(model, new ClassificationObjective(), Settings(seed: 4), 0, CPU).Run(rows, null);
            straight = LoopTestModels.Trainable(model);
        }
        using var folder = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(folder.Path, ".tmp-checkpoint-3-99999"));   // left by a killed run
        // Stops after 3 steps (a "kill" after the checkpoint at step 3 in mid-epoch), then a fresh loop resumes.
        var interrupted = Settings(seed: 4);
        var loop = new FineTuningLoop(LoopTestModels.Classifier(), new ClassificationObjective(), interrupted, 0, CPU)
        {
            Checkpoints = new AdapterCheckpointDirectory(folder.Path), CheckpointInterval = 3,
            Progress = p => { if (p.Step == 4) throw new OperationCanceledException(); },
        };
        Assert.Throws<OperationCanceledException>(() => loop.Run(rows, null));
        Assert.Equal(["checkpoint-3"], Directory.GetDirectories(folder.Path).Select(Path.GetFileName));

        using var resumed = LoopTestModels.Classifier();
        new FineTuningLoop(resumed, new ClassificationObjective(), Settings(seed: 4), 0, CPU)
        {
            Checkpoints = new AdapterCheckpointDirectory(folder.Path), CheckpointInterval = 3,
        }.Run(rows, null);
        Assert.Equal(0, LoopTestModels.MaxDifference(straight, LoopTestModels.Trainable(resumed)));
    }
}
