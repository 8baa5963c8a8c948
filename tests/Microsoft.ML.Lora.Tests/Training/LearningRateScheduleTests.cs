using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Tests.Training;

/// <summary>Each schedule's multiplier at chosen steps, worked out by hand (warm-up 2 of 10 steps).</summary>
public class LearningRateScheduleTests
{
    [Theory]
    [InlineData(LearningRateScheduleKind.Linear, 0, 0.5)]       // warm-up: (s + 1) / 2
    [InlineData(LearningRateScheduleKind.Linear, 1, 1.0)]
    [InlineData(LearningRateScheduleKind.Linear, 2, 1.0)]       // decay starts at the peak
    [InlineData(LearningRateScheduleKind.Linear, 6, 0.5)]       // halfway through the 8 decay steps
    [InlineData(LearningRateScheduleKind.Linear, 9, 0.125)]     // last step taken: 1/8
    [InlineData(LearningRateScheduleKind.Linear, 10, 0.0)]      // the step after the last reaches zero
    [InlineData(LearningRateScheduleKind.Cosine, 0, 0.5)]
    [InlineData(LearningRateScheduleKind.Cosine, 2, 1.0)]
    [InlineData(LearningRateScheduleKind.Cosine, 4, 0.85355339059327373)]  // ½(1 + cos π/4)
    [InlineData(LearningRateScheduleKind.Cosine, 6, 0.5)]
    [InlineData(LearningRateScheduleKind.Cosine, 10, 0.0)]
    [InlineData(LearningRateScheduleKind.Constant, 0, 0.5)]
    [InlineData(LearningRateScheduleKind.Constant, 1, 1.0)]
    [InlineData(LearningRateScheduleKind.Constant, 9, 1.0)]
    public void FactorAtStep(LearningRateScheduleKind kind, long step, double expected) =>
        Assert.Equal(expected, new LearningRateSchedule(kind, warmupSteps: 2, totalSteps: 10).Factor(step), 12);

    [Fact]
    public void WithoutWarmUpLinearStartsAtOne() =>
        Assert.Equal([1.0, 0.75, 0.5, 0.25], Enumerable.Range(0, 4).Select(s => new LearningRateSchedule(LearningRateScheduleKind.Linear, 0, 4).Factor(s)));
}
