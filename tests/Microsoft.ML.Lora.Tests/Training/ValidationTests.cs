using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Training;

public class ValidationTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ValidationLeavesTheModelInTheModeItFoundIt(bool training)
    {
        using var model = LoopTestModels.Classifier();
        model.train(training);
        var loop = new FineTuningLoop(model, new ClassificationObjective(), new FineTuningSettings { BatchSize = 4 }, padId: 0, CPU);
        loop.Validate(LoopTestModels.EqualLengthRows(10));
        Assert.Equal(training, model.training);
    }

    [Fact]
    public void ValidationRunsOneForwardPassPerBatchAndMatchesSeparateLossAndAccuracy()
    {
        using var model = LoopTestModels.Classifier();
        var rows = LoopTestModels.EqualLengthRows(10);
        var objective = new CountingObjective(new ClassificationObjective());
        var (loss, accuracy) = new FineTuningLoop(model, objective, new FineTuningSettings { BatchSize = 4 }, padId: 0, CPU).Validate(rows);
        Assert.Equal(3, objective.ForwardPasses);   // batches of 4, 4, 2

        // Reference: the loss and correct count computed separately, two passes per batch, weighted by rows.
        model.eval();
        using var noGrad = no_grad();
        double lossSum = 0;
        long correct = 0;
        foreach (var chunk in rows.Chunk(4))
        {
            using var batch = TrainingBatch.Collate(chunk, 0, CPU);
            lossSum += new ClassificationObjective().Loss(model, batch).item<float>() * chunk.Length;
            correct += new ClassificationObjective().Correct(model, batch);
        }
        Assert.Equal(lossSum / rows.Count, loss, 5);
        Assert.Equal((double)correct / rows.Count, accuracy);
    }
}
