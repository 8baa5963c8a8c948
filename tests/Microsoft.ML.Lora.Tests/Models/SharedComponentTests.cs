using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>Masks, positions and activations shared by the architectures, on hand-sized inputs.</summary>
public class SharedComponentTests
{
    [Fact]
    public void PositionIdsCountRealTokensSoLeftPaddingDoesNotShiftThem()
    {
        using var scope = NewDisposeScope();
        var mask = tensor(new long[] { 0, 0, 1, 1, 1, 1, 1, 1, 1, 0 }, [2, 5]);
        var positions = AttentionMask.PositionIds(mask, 2, 5, CPU).data<long>().ToArray();
        Assert.Equal(new long[] { 0, 0, 0, 1, 2, 0, 1, 2, 3, 3 }, positions);
        // With two cached positions, the mask covers all five and the ids are those of the last three.
        Assert.Equal(new long[] { 0, 1, 2, 2, 3, 3 }, AttentionMask.PositionIds(mask, 2, 3, CPU, pastLength: 2).data<long>().ToArray());
        Assert.Equal(new long[] { 2, 3, 4 }, AttentionMask.PositionIds(null, 1, 3, CPU, pastLength: 2).data<long>().ToArray());
    }

    [Fact]
    public void CausalMaskWithPaddingCacheAndWindowBlocksExactlyTheForbiddenKeys()
    {
        using var scope = NewDisposeScope();
        // Keys 0..4, key 0 is padding; two queries at positions 3 and 4 (three cached keys); window 3.
        var mask = AttentionMask.Additive(tensor(new long[] { 0, 1, 1, 1, 1 }, [1, 5]), 2, causal: true, ScalarType.Float32, pastLength: 3, window: 3);
        Assert.Equal(new long[] { 1, 1, 2, 5 }, mask.shape);
        var allowed = mask.eq(0).data<bool>().ToArray();
        bool[] expected =
        [
            false, true, true, true, false,    // query 3: key 0 padded, keys 1..3 (3 − 3 < k ≤ 3), key 4 in the future
            false, false, true, true, true,    // query 4: keys 2..4 (window), key 1 too far back
        ];
        Assert.Equal(expected, allowed);
        Assert.Equal(float.MinValue, mask.min().item<float>());   // finite, so fully masked rows stay finite
    }

    [Fact]
    public void DecoderMaskIsOmittedWhenPlainCausalAttentionIsExact()
    {
        using var scope = NewDisposeScope();
        Assert.Null(AttentionMask.ForDecoder(null, 1, 6, 0, ScalarType.Float32, CPU));
        Assert.Null(AttentionMask.ForDecoder(ones(1, 6), 1, 6, 0, ScalarType.Float32, CPU));
        Assert.Null(AttentionMask.ForDecoder(null, 1, 1, 5, ScalarType.Float32, CPU));                  // one new token sees all keys
        Assert.NotNull(AttentionMask.ForDecoder(null, 1, 2, 5, ScalarType.Float32, CPU));               // a chunk after cached keys
        Assert.NotNull(AttentionMask.ForDecoder(null, 1, 1, 5, ScalarType.Float32, CPU, window: 4));    // the window reaches back
        Assert.NotNull(AttentionMask.ForDecoder(tensor(new long[] { 0, 1 }, [1, 2]), 1, 2, 0, ScalarType.Float32, CPU));   // left padding
        var rightPadded = tensor(new long[] { 1, 1, 1, 1, 1, 0 }, [2, 3]);
        Assert.True(AttentionMask.IsPaddedOnTheRight(rightPadded));
        Assert.False(AttentionMask.IsPaddedOnTheRight(tensor(new long[] { 1, 1, 1, 1, 0, 1 }, [2, 3])));   // a hole
        Assert.Null(AttentionMask.ForDecoder(rightPadded, 2, 3, 0, ScalarType.Float32, CPU));          // causal keeps real queries off the end
        Assert.NotNull(AttentionMask.ForDecoder(tensor(new long[] { 1, 1, 0, 1, 1, 1 }, [2, 3]), 2, 1, 2, ScalarType.Float32, CPU));   // cache
        Assert.Equal(new long[] { 1, 1, 1, 3 }, AttentionMask.ForEncoder(tensor(new long[] { 1, 1, 0 }, [1, 3]), ScalarType.Float32)!.shape);
    }

    [Fact]
    public void ActivationsFollowTheirFormulas()
    {
        using var scope = NewDisposeScope();
        double[] xs = [-3, -1, -0.5, 0, 0.5, 1, 3];
        var x = tensor(xs.Select(v => (float)v).ToArray());
        var erfGelu = Activations.Apply("gelu", x).data<float>().ToArray();
        var tanhGelu = Activations.Apply("gelu_new", x).data<float>().ToArray();
        var silu = Activations.Apply("silu", x).data<float>().ToArray();
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.Equal(ReferenceMath.Gelu(xs[i]), erfGelu[i], 1e-6);
            Assert.Equal(ReferenceMath.GeluNew(xs[i]), tanhGelu[i], 1e-6);
            Assert.Equal(ReferenceMath.Silu(xs[i]), silu[i], 1e-6);
        }
        // The two GELUs really differ (by ~2e-4 at |x| ≈ 1), so a mix-up cannot pass the reference tests.
        Assert.True(Math.Abs(erfGelu[1] - tanhGelu[1]) > 1e-4);
        // Known values: Φ(1) = 0.8413447460685429, so gelu(1) = 0.8413447...
        Assert.Equal(0.8413447460685429, erfGelu[5], 1e-6);
        Assert.Throws<NotSupportedException>(() => Activations.Apply("mish2", x));
    }
}
