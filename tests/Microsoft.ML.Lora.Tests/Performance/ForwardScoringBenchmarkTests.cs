using Microsoft.ML.Lora.Benchmarks;

namespace Microsoft.ML.Lora.Tests.Performance;

public class ForwardScoringBenchmarkTests
{
    [Fact]
    public void LengthBucketsSortRowsAndMaskOnlyTheirRealTokens()
    {
        int[] lengths = [5, 1, 3, 7, 2];
        var batches = ForwardScoringBenchmark.LengthBuckets(lengths, batchSize: 2, vocabulary: 50);
        Assert.Equal([2L, 5, 7], batches.Select(b => b.Ids.shape[1]));   // sorted 1 2 | 3 5 | 7, padded to each batch's longest
        Assert.Equal(lengths.Sum(), batches.Sum(b => b.Mask.sum().item<long>()));
        foreach (var (ids, mask) in batches)
        {
            Assert.True(ids.masked_select(mask.eq(0)).eq(0).all().item<bool>(), "padding positions hold id 0");
            Assert.True(ids.masked_select(mask.eq(1)).ge(3).all().item<bool>(), "real ids are drawn from 3 upwards");
        }
    }

    [Fact]
    public void ForwardMfuCountsRealTokensAgainstTheGemmPeak()
    {
        var result = ForwardScoringBenchmark.Run("stories260k", [4, 9, 16, 16, 30], new ScoringBenchmarkOptions { ScoringBatchSize = 2, Rounds = 1 });
        Assert.Equal(75, result.RealTokens);
        Assert.Equal(2 * 9 + 2 * 16 + 30, result.PaddedTokens);
        Assert.Equal(result.ForwardFlopsPerSecond / result.GemmFlopsPerSecond, result.ForwardMfu, 12);
        Assert.InRange(result.ForwardMfu, 1e-6, 1.5);
        Assert.Throws<UnknownPresetException>(() => ForwardScoringBenchmark.Run("nope", [1]));
    }
}
