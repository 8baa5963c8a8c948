using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Adapters.Storage;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Adapters;

public class QuantizedWeightTests
{
    [Fact]
    public void Nf4PackingPutsElementTwoIInTheHighNibbleAndRoundTrips()
    {
        using var scope = NewDisposeScope();
        var packed = Nf4Weight.Pack(tensor(new long[] { 3, 10, 15, 0 }));
        Assert.Equal(new byte[] { 0x3A, 0xF0 }, packed.data<byte>().ToArray());

        manual_seed(1);
        var codes = randint(0, 16, [4096], dtype: ScalarType.Int64);
        Assert.Equal(codes.data<long>().ToArray(), Nf4Weight.Unpack(Nf4Weight.Pack(codes)).data<long>().ToArray());
    }

    [Fact]
    public void Nf4CodesAreTheNearestNormalFloatOfEachBlockScaledValue()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var w = randn(64, 96);
        using var q = Nf4Weight.Quantize(w, ScalarType.Float32);
        // Independent reference: argmin over the 16 levels of |w / absmax_block − level|.
        var blocks = w.flatten().view(-1, Nf4Weight.BlockSize);
        var normalized = blocks.div(blocks.abs().amax([1], keepdim: true));
        var levels = tensor(Nf4Weight.Levels);
        var expected = normalized.unsqueeze(-1).sub(levels).abs().argmin(-1).flatten();
        Assert.Equal(expected.data<long>().ToArray(), q.Codes().data<long>().ToArray());
        // And the stored bytes unpack to the same codes again.
        Assert.Equal(q.Codes().data<long>().ToArray(), Nf4Weight.Unpack(q.Packed).data<long>().ToArray());
        Assert.Equal(w.numel() / 2, q.Packed.numel());
    }

    [Fact]
    public void Nf4MeanAbsoluteErrorRelativeToBlockAbsmaxMatchesQlora()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var w = randn(1024, 1024);
        using var q = Nf4Weight.Quantize(w, ScalarType.Float32);
        var error = q.Dequantize(ScalarType.Float32).sub(w).abs().view(-1, Nf4Weight.BlockSize);
        var absmax = w.view(-1, Nf4Weight.BlockSize).abs().amax([1], keepdim: true);
        double relative = error.div(absmax).mean().item<float>();
        Assert.InRange(relative, 0.027, 0.029);
    }

    [Fact]
    public void DoubleQuantisedConstantsCostAnEighthOfABitPerWeight()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var w = randn(2048, 2048);
        using var q = Nf4Weight.Quantize(w, ScalarType.Float32);
        long n = w.numel();
        long constantBytes = q.StorageBytes - q.Packed.numel();   // absmax codes, their scales and mean, the code map
        double bitsPerWeight = constantBytes * 8.0 / n;
        Assert.InRange(bitsPerWeight, 0.126, 0.128);
        double undoubled = q.Blocks * sizeof(float) * 8.0 / n;  // fp32 absmax per block, as without double quantisation
        Assert.Equal(0.5, undoubled, 6);
        Assert.Equal(4.0, q.Packed.numel() * 8.0 / n, 6);
        // The double-quantised absmax stays close to the exact one.
        var exact = w.view(-1, Nf4Weight.BlockSize).abs().amax([1]);
        Assert.True(q.Absmax().sub(exact).abs().max().item<float>() < 0.01f * exact.max().item<float>());
    }

    [Fact]
    public void Int8ErrorIsAtMostHalfAStepOfItsRowScale()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var w = randn(48, 80).mul(tensor(Enumerable.Range(1, 48).Select(i => (float)i).ToArray()).unsqueeze(1));
        using var q = Int8Weight.Quantize(w, ScalarType.Float32);
        var bound = w.abs().amax([1], keepdim: true).div(254);
        var error = q.Dequantize(ScalarType.Float32).sub(w).abs();
        Assert.True(error.le(bound.mul(1.0001)).all().item<bool>());
        Assert.Equal(48L * 80 + 48 * 4, q.StorageBytes);
    }

    [Theory]
    [InlineData(7, 9)]      // 63 weights: one partial block
    [InlineData(10, 13)]    // 130 weights: two full blocks and a partial one
    public void ASizeThatIsNotABlockMultipleGetsAPaddedPartialBlock(int outFeatures, int inFeatures)
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        var w = randn(outFeatures, inFeatures);
        using var q = Nf4Weight.Quantize(w, ScalarType.Float32);
        long blocks = (outFeatures * inFeatures + Nf4Weight.BlockSize - 1) / Nf4Weight.BlockSize;
        Assert.Equal(blocks, q.Blocks);
        Assert.Equal(blocks * Nf4Weight.BlockSize / 2, q.Packed.numel());
        var dense = q.Dequantize(ScalarType.Float32);
        Assert.Equal(new long[] { outFeatures, inFeatures }, dense.shape);
        // Each value is within half the widest gap between levels (0.1516) of its block's absmax.
        Assert.True(dense.sub(w).abs().max().item<float>() <= 0.16f * w.abs().max().item<float>());
    }

    [Theory]
    [InlineData(FrozenWeightQuantization.Nf4)]
    [InlineData(FrozenWeightQuantization.Int8)]
    public void AdapterGradientsThroughAQuantisedBaseEqualThoseOverItsDequantisedWeight(FrozenWeightQuantization kind)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var quantised = FrozenLayer(70, 24, hasBias: true);
        quantised.Quantize(kind, ScalarType.Float32);
        var dense = FrozenLayer(70, 24, hasBias: true);
        using (no_grad())
        {
            dense.weight.copy_(quantised.Storage.Dequantize(ScalarType.Float32));
            dense.bias!.copy_(quantised.bias!);
        }
        foreach (var layer in new[] { quantised, dense })
        {
            manual_seed(11);
            layer.AddAdapter("default", new LoraAdapterSettings(Rank: 4, Alpha: 8));
            layer.SetActiveAdapters(["default"]);
            using (no_grad())
            {
                layer.LoraB("default").copy_(linspace(-1, 1, 24 * 4).view(24, 4));
            }
        }
        var x = randn(5, 70);
        var xq = x.clone().requires_grad_(true);
        var xd = x.clone().requires_grad_(true);
        var yq = quantised.forward(xq);
        var yd = dense.forward(xd);
        Assert.True(yq.allclose(yd, rtol: 1e-5, atol: 1e-5));
        yq.pow(2).sum().backward();
        yd.pow(2).sum().backward();
        Assert.True(quantised.LoraA("default").grad!.allclose(dense.LoraA("default").grad!, rtol: 1e-4, atol: 1e-5));
        Assert.True(quantised.LoraB("default").grad!.allclose(dense.LoraB("default").grad!, rtol: 1e-4, atol: 1e-5));
        Assert.True(xq.grad!.allclose(xd.grad!, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void QuantisingTwiceMergingOrReadingTheParameterOfAQuantisedBaseThrowsTyped()
    {
        using var scope = NewDisposeScope();
        var layer = FrozenLayer(64, 16, hasBias: false);
        layer.Quantize(FrozenWeightQuantization.Nf4, ScalarType.Float32);
        Assert.Throws<QuantizedBaseException>(() => layer.Quantize(FrozenWeightQuantization.Int8, ScalarType.Float32));
        Assert.Throws<QuantizedBaseException>(() => layer.BaseWeight);
        Assert.DoesNotContain(layer.named_parameters(), p => p.name == "weight");
        layer.AddAdapter("default", new LoraAdapterSettings(Rank: 2, Alpha: 2));
        layer.SetActiveAdapters(["default"]);
        Assert.Throws<QuantizedBaseException>(() => layer.Merge(["default"]));
        // The merged weight itself is still available: the adapter over the dequantised base, dense.
        Assert.Equal(new long[] { 16, 64 }, layer.MergedWeight(["default"]).shape);
    }

    private static AdaptableLinear FrozenLayer(int inFeatures, int outFeatures, bool hasBias)
    {
        var layer = new AdaptableLinear(inFeatures, outFeatures, hasBias);
        layer.weight.requires_grad_(false);
        layer.bias?.requires_grad_(false);
        return layer;
    }
}
