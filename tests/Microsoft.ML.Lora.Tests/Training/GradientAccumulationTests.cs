using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Training;

public class GradientAccumulationTests
{
    private static Dictionary<string, float[]> TrainClassifier(List<TokenizedExample> rows, int batchSize, int accumulation)
    {
        using var model = LoopTestModels.Classifier();
        var loop = new FineTuningLoop(model, new ClassificationObjective(), new FineTuningSettings
        {
            Epochs = 1, BatchSize = batchSize, GradientAccumulationSteps = accumulation, LearningRate = 1e-2,
            LengthBucketing = false, Seed = 5, Schedule = LearningRateScheduleKind.Constant,
        }, padId: 0, CPU);
        loop.Run(rows, null);
        return LoopTestModels.Trainable(model);
    }

    /// <summary>
    /// 44 rows: accumulating batches of 8 in groups of 4 takes the steps [8,8,8,8] and [8,4]; one batch of 32 takes
    /// [32] and [12] — the same rows in the same order (the shuffle permutes row indices, whatever the batch size).
    /// The second, partial group only matches when its batches count 8/12 and 4/12 (not 1/4 each, as before), and
    /// Adam's second step depends on the second gradient's scale relative to the first.
    /// </summary>
    [Fact]
    public void AccumulatingFourBatchesOfEightEqualsOneBatchOfThirtyTwo()
    {
        var rows = LoopTestModels.EqualLengthRows(44);
        Dictionary<string, float[]> before;
        using (var untrained = LoopTestModels.Classifier())
        {
            before = LoopTestModels.Trainable(untrained);
        }
        var accumulated = TrainClassifier(rows, batchSize: 8, accumulation: 4);
        var large = TrainClassifier(rows, batchSize: 32, accumulation: 1);

        Assert.True(LoopTestModels.MaxChange(before, large) > 1e-3, "the reference run did not move the weights");
        double difference = LoopTestModels.MaxDifference(accumulated, large);
        Assert.True(difference < 2e-5, $"accumulated and large-batch updates differ by {difference:E2}");
    }

    /// <summary>
    /// Causal LM: each batch's loss is the mean over its loss tokens, so accumulated batches count by their loss
    /// tokens (<see cref="CausalLanguageModelObjective.Weight"/>). Rows of different lengths and prompt lengths, one row
    /// per batch, accumulated 4 at a time, match batches of 4 (right padding changes nothing under a causal mask).
    /// </summary>
    [Fact]
    public void CausalLanguageModelAccumulationWeightsBatchesByLossTokens()
    {
        var random = new Random(11);
        var rows = Enumerable.Range(0, 8).Select(i =>
        {
            int length = 6 + (i * 5 % 11);
            return new TokenizedExample([.. Enumerable.Range(0, length).Select(_ => random.Next(1, 64))], LossStart: 1 + i % 4);
        }).ToList();
        Assert.True(rows.Select(CausalLanguageModelObjective.LossTokens).Distinct().Count() > 4, "rows should differ in loss tokens");

        Dictionary<string, float[]> Train(int batchSize, int accumulation)
        {
            using var model = LoopTestModels.LanguageModel();
            new FineTuningLoop(model, new CausalLanguageModelObjective(), new FineTuningSettings
            {
                Epochs = 1, BatchSize = batchSize, GradientAccumulationSteps = accumulation, LearningRate = 1e-2,
                LengthBucketing = false, Seed = 2, Schedule = LearningRateScheduleKind.Constant, MaxGradNorm = 0,
            }, padId: 0, CPU).Run(rows, null);
            return LoopTestModels.Trainable(model);
        }

        double difference = LoopTestModels.MaxDifference(Train(1, 4), Train(4, 1));
        Assert.True(difference < 2e-5, $"token-weighted accumulation differs from the large batch by {difference:E2}");
    }

    [Fact]
    public void TenBatchesAccumulatingFourForThreeEpochsTakeNineStepsOverEveryBatch()
    {
        var settings = new FineTuningSettings
        {
            Epochs = 3, BatchSize = 2, GradientAccumulationSteps = 4, LearningRate = 1e-3, LengthBucketing = false,
            Schedule = LearningRateScheduleKind.Linear,
        };
        var rows = LoopTestModels.EqualLengthRows(20, length: 6);
        Assert.Equal(9, FineTuningLoop.PlannedSteps(rows.Count, settings));

        using var model = LoopTestModels.Classifier();
        var objective = new CountingObjective(new ClassificationObjective());
        var reports = new List<FineTuningProgress>();
        var result = new FineTuningLoop(model, objective, settings, padId: 0, CPU) { Progress = reports.Add }.Run(rows, null);

        Assert.Equal(9, result.Steps);
        Assert.Equal(3, result.Epochs);
        Assert.Equal(30, objective.ForwardPasses);              // every epoch ran all 10 batches
        Assert.Equal([3, 3, 3], reports.GroupBy(r => r.Epoch).Select(g => g.Count()));
        Assert.All(reports, r => Assert.Equal(9, r.TotalSteps));
        // Linear decay over exactly the 9 steps taken: step s uses 1 − s/9, so the last one 1/9 (never 0, never cut short).
        Assert.Equal(Enumerable.Range(0, 9).Select(s => 1 - s / 9.0), reports.Select(r => r.LearningRateFactor!.Value), new ToleranceComparer(1e-12));
    }

    [Fact]
    public void MaxStepsCapsThePlannedSteps()
    {
        var settings = new FineTuningSettings { Epochs = 3, BatchSize = 2, GradientAccumulationSteps = 4, MaxSteps = 5 };
        Assert.Equal(5, FineTuningLoop.PlannedSteps(20, settings));
        Assert.Equal(3, FineTuningLoop.PlannedSteps(8, new FineTuningSettings { Epochs = 3, BatchSize = 8, GradientAccumulationSteps = 4 }));
    }
}

/// <summary>Equality within an absolute tolerance.</summary>
internal sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
{
    public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;

    public int GetHashCode(double obj) => 0;
}
