using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

public class LayerKvCacheTests
{
    [Fact]
    public void AppendingInPlaceHoldsWhatConcatenationWouldAndGrowsByDoubling()
    {
        using var cache = new LayerKvCache();
        var keys = new List<Tensor>();
        var values = new List<Tensor>();
        var capacities = new List<long>();
        foreach (int step in new[] { 50, 1, 13, 1, 1, 70 })
        {
            keys.Add(randn(2, 3, step, 4));
            values.Add(randn(2, 3, step, 4));
            var (k, v) = cache.Append(keys[^1], values[^1]);
            Assert.Equal(cat([.. keys], 2).shape, k.shape);
            Assert.True(cat([.. keys], 2).eq(k).all().item<bool>());
            Assert.True(cat([.. values], 2).eq(v).all().item<bool>());
            capacities.Add(cache.Capacity);
        }
        Assert.Equal(136, cache.Length);
        Assert.Equal([64L, 64, 64, 128, 128, 256], capacities);   // 50, 51, 64 fit in 64; 65 doubles it; 136 doubles 128
    }

    [Fact]
    public void AnotherBatchSizeIsATypedErrorNotACorruptCache()
    {
        using var cache = new LayerKvCache();
        cache.Append(randn(2, 1, 3, 4), randn(2, 1, 3, 4));
        var error = Assert.Throws<InvalidOperationException>(() => cache.Append(randn(1, 1, 1, 4), randn(1, 1, 1, 4)));
        Assert.Contains("holds 2 rows", error.Message, StringComparison.Ordinal);
    }
}
