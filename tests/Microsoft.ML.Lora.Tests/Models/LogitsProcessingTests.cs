using Microsoft.ML.Lora.Models.Generation;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>The logits processors on hand-sized vectors.</summary>
public class LogitsProcessingTests
{
    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeSeenLogits()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 2, -2, 1, 3 }, [1, 4]);
        // History: tokens 0, 1 and (masked out, so not seen) 3.
        var penalized = LogitsProcessing.PenalizeRepetitions(logits, tensor(new long[] { 0, 1, 3 }, [1, 3]), tensor(new long[] { 1, 1, 0 }, [1, 3]), 2.0);
        Assert.Equal(new float[] { 1, -4, 1, 3 }, penalized.data<float>().ToArray());
    }

    [Fact]
    public void TopKKeepsTheKLargest()
    {
        using var scope = NewDisposeScope();
        var kept = LogitsProcessing.KeepTopK(tensor(new float[] { 0.1f, 3, -1, 2 }, [1, 4]), 2).data<float>().ToArray();
        Assert.Equal(new[] { float.NegativeInfinity, 3, float.NegativeInfinity, 2 }, kept);
    }

    [Theory]
    [InlineData(0.4, new[] { true, false, false, false })]   // the top token alone has 0.5 ≥ 0.4
    [InlineData(0.7, new[] { true, true, false, false })]    // 0.5 < 0.7, then 0.8 ≥ 0.7
    [InlineData(0.9, new[] { true, true, true, false })]     // 0.8 < 0.9, then 0.95
    public void TopPKeepsTheSmallestSetReachingP(double p, bool[] expectedKept)
    {
        using var scope = NewDisposeScope();
        // Probabilities 0.15, 0.5, 0.05, 0.3 in shuffled order: ranked 0.5, 0.3, 0.15, 0.05.
        var logits = tensor(new[] { 0.15, 0.5, 0.05, 0.3 }.Select(x => (float)Math.Log(x)).ToArray(), [1, 4]);
        var kept = LogitsProcessing.KeepTopP(logits, p).data<float>().Select(float.IsFinite).ToArray();
        bool[] byRank = [kept[1], kept[3], kept[0], kept[2]];
        Assert.Equal(expectedKept, byRank);
    }

    [Fact]
    public void SamplingFollowsTheTemperedDistribution()
    {
        using var scope = NewDisposeScope();
        const int rows = 20000;
        double[] logits = [0, 1, 2];
        var batch = tensor(logits.Select(x => (float)x).ToArray(), [1, 3]).expand(rows, 3).contiguous();
        using var generator = new Generator(99);
        var draws = LogitsProcessing.ChooseNext(batch, new GenerationOptions { Temperature = 2 }, generator).data<long>().ToArray();
        var expected = logits.Select(x => Math.Exp(x / 2)).ToArray();
        double total = expected.Sum();
        for (int token = 0; token < 3; token++)
        {
            double frequency = draws.Count(d => d == token) / (double)rows;
            Assert.InRange(frequency, expected[token] / total - 0.015, expected[token] / total + 0.015);
        }
    }
}
