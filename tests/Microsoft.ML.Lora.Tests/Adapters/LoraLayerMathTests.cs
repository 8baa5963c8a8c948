using Microsoft.ML.Lora.Adapters;
using static Microsoft.ML.Lora.Tests.Adapters.AdapterTestModels;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Adapters;

/// <summary>
/// One layer's LoRA arithmetic against hand computations in float64: plain LoRA, rsLoRA, DoRA, Conv1D,
/// mixed precision, embeddings and the initialisations.
/// </summary>
public class LoraLayerMathTests
{
    private static (AdaptableLinear Layer, Tensor X) Layer(bool fanInFanOut = false, bool bias = true, long seed = 3)
    {
        manual_seed(seed);
        var layer = new AdaptableLinear(6, 5, bias, fanInFanOut);
        layer.eval();
        return (layer, randn(2, 3, 6));
    }

    private static Tensor W64(AdaptableLinear layer) =>
        (layer.FanInFanOut ? layer.weight.t() : layer.weight).to(ScalarType.Float64);

    private static Tensor Hand(AdaptableLinear layer, Tensor x, Tensor weightOutIn64) =>
        x.to(ScalarType.Float64).matmul(weightOutIn64.t()) + (layer.bias?.to(ScalarType.Float64) ?? zeros(1, ScalarType.Float64));

    [Fact]
    public void ZeroBLeavesTheOutputEqualToTheBase()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = Layer();
        var before = layer.forward(x);
        layer.AddAdapter("a", new LoraAdapterSettings(3, 6));
        layer.SetActiveAdapters(["a"]);
        Assert.Equal(0.0, MaxDiff(before, layer.forward(x)));
        Assert.True(layer.LoraA("a").abs().sum().item<float>() > 0, "A is initialised non-zero");
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void ForwardEqualsBasePlusScaledLowRankProduct(bool fanInFanOut, bool rsLora)
    {
        using var scope = NewDisposeScope();
        var (layer, x) = Layer(fanInFanOut);
        var settings = new LoraAdapterSettings(3, 6, UseRsLora: rsLora);
        layer.AddAdapter("a", settings);
        layer.SetActiveAdapters(["a"]);
        using (no_grad())
        {
            layer.LoraB("a").normal_();
        }
        double scale = rsLora ? 6 / Math.Sqrt(3) : 6.0 / 3;
        Assert.Equal(scale, settings.Scale, 12);
        var a = layer.LoraA("a").to(ScalarType.Float64);
        var b = layer.LoraB("a").to(ScalarType.Float64);
        var expected = Hand(layer, x, W64(layer) + scale * b.matmul(a));
        Assert.True(MaxDiff(expected, layer.forward(x)) < 1e-5);
    }

    [Fact]
    public void DoraMatchesMagnitudeTimesNormalisedDirection()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = Layer();
        layer.AddAdapter("d", new LoraAdapterSettings(2, 4, UseDora: true));
        layer.SetActiveAdapters(["d"]);
        var w = W64(layer);
        // The magnitude starts at W0's row norms (B = 0).
        Assert.True(MaxDiff(linalg.vector_norm(w, dims: [1]), layer.Magnitude("d")!) < 1e-6);
        Assert.True(MaxDiff(Hand(layer, x, w), layer.forward(x)) < 1e-5, "DoRA with B = 0 equals the base");

        using (no_grad())
        {
            layer.LoraB("d").normal_();
            layer.Magnitude("d")!.mul_(rand(5) + 0.5);
        }
        var combined = w + 2.0 * layer.LoraB("d").to(ScalarType.Float64).matmul(layer.LoraA("d").to(ScalarType.Float64));
        var m = layer.Magnitude("d")!.to(ScalarType.Float64);
        var directed = combined * (m / linalg.vector_norm(combined, dims: [1])).unsqueeze(1);
        Assert.True(MaxDiff(Hand(layer, x, directed), layer.forward(x)) < 1e-5);
    }

    [Fact]
    public void PissaPutsTheTopSingularPartIntoTheAdapterAndKeepsTheResidual()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = Layer();
        var original = W64(layer).clone();
        var before = layer.forward(x);
        var settings = new LoraAdapterSettings(2, 8);   // scale 4
        layer.AddAdapter("p", settings, LoraInitialization.Pissa);
        layer.SetActiveAdapters(["p"]);

        var (u, s, vh) = linalg.svd(original, fullMatrices: false);
        var topTwo = u[.., ..2].matmul(diag(s[..2])).matmul(vh[..2]);
        var adapterPart = 4.0 * layer.LoraB("p").to(ScalarType.Float64).matmul(layer.LoraA("p").to(ScalarType.Float64));
        Assert.True(MaxDiff(topTwo, adapterPart) < 1e-5, "scale·B·A is the top-r SVD part");
        Assert.True(MaxDiff(original - topTwo, W64(layer)) < 1e-5, "the base holds the residual");
        // B = U_r·√(S_r/scale) and A = √(S_r/scale)·V_rᵀ: the two factors carry equal singular values.
        Assert.True(MaxDiff(linalg.vector_norm(layer.LoraB("p"), dims: [0]), (s[..2] / 4.0).sqrt()) < 1e-5);
        Assert.True(MaxDiff(before, layer.forward(x)) < 1e-5, "the initial layer equals the base layer");
    }

    [Fact]
    public void OloraUsesTheQrFactorsAndCompensatesTheBase()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = Layer();
        var original = W64(layer).clone();
        var before = layer.forward(x);
        layer.AddAdapter("o", new LoraAdapterSettings(2, 2), LoraInitialization.Olora);   // scale 1
        layer.SetActiveAdapters(["o"]);
        var b = layer.LoraB("o").to(ScalarType.Float64);
        var a = layer.LoraA("o").to(ScalarType.Float64);
        Assert.True(MaxDiff(b.t().matmul(b), eye(2, dtype: ScalarType.Float64)) < 1e-5, "B = Q_r has orthonormal columns");
        Assert.True(MaxDiff(a.tril(-1), zeros(2, 6, ScalarType.Float64)) < 1e-6, "A = R_r is upper triangular");
        // The first column of W is Q_r·R_r's first column exactly (QR), so B·A reproduces it.
        Assert.True(MaxDiff(original[.., ..1], b.matmul(a)[.., ..1]) < 1e-5);
        Assert.True(MaxDiff(original - b.matmul(a), W64(layer)) < 1e-5);
        Assert.True(MaxDiff(before, layer.forward(x)) < 1e-5);
    }

    [Fact]
    public void NonZeroInitStartsEqualToTheBaseWithBothFactorsRandom()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = Layer();
        var before = layer.forward(x);
        layer.AddAdapter("n", new LoraAdapterSettings(3, 6), LoraInitialization.NonZero);
        layer.SetActiveAdapters(["n"]);
        Assert.True(layer.LoraB("n").abs().min().item<float>() > 0);
        Assert.True(MaxDiff(before, layer.forward(x)) < 1e-5);
    }

    [Fact]
    public void GaussianInitDrawsAWithStdOneOverRank()
    {
        using var scope = NewDisposeScope();
        var layer = new AdaptableLinear(4000, 3, hasBias: false);
        using var g = new Generator(11);
        layer.AddAdapter("g", new LoraAdapterSettings(4, 4), LoraInitialization.Gaussian, g);
        Assert.InRange(layer.LoraA("g").std().item<float>(), 0.24, 0.26);
        Assert.Equal(0, layer.LoraB("g").abs().sum().item<float>());
    }

    [Fact]
    public void TheSameSeedGivesTheSameAdapter()
    {
        using var scope = NewDisposeScope();
        var first = new AdaptableLinear(8, 8, false);
        var second = new AdaptableLinear(8, 8, false);
        using (var g = new Generator(5))
        {
            first.AddAdapter("a", new LoraAdapterSettings(2, 2), LoraInitialization.NonZero, g);
        }
        using (var g = new Generator(5))
        {
            second.AddAdapter("a", new LoraAdapterSettings(2, 2), LoraInitialization.NonZero, g);
        }
        Assert.Equal(0.0, MaxDiff(first.LoraA("a"), second.LoraA("a")));
        Assert.Equal(0.0, MaxDiff(first.LoraB("a"), second.LoraB("a")));
        Assert.True(MaxDiff(first.weight, second.weight) > 0, "the layers themselves differ, so equality comes from the seed");
    }

    [Fact]
    public void Bf16BaseWithFp32AdapterComputesTheAdapterPathInFp32()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = Layer(bias: false);
        layer.AddAdapter("a", new LoraAdapterSettings(2, 2));
        layer.SetActiveAdapters(["a"]);
        using (no_grad())
        {
            layer.LoraB("a").normal_();
            layer.weight.copy_(layer.weight.to(ScalarType.BFloat16));
        }
        var bf16 = new AdaptableLinear(6, 5, false, dtype: ScalarType.BFloat16);
        using (no_grad())
        {
            bf16.weight.copy_(layer.weight);
        }
        bf16.AddAdapter("a", new LoraAdapterSettings(2, 2));
        bf16.SetActiveAdapters(["a"]);
        using (no_grad())
        {
            bf16.LoraA("a").copy_(layer.LoraA("a"));
            bf16.LoraB("a").copy_(layer.LoraB("a"));
        }
        var y = bf16.forward(x.to(ScalarType.BFloat16));
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        Assert.Equal(ScalarType.Float32, bf16.LoraA("a").dtype);
        Assert.True(MaxDiff(layer.forward(x), y) < 0.05, "bf16 output agrees with the fp32 computation to bf16 precision");
    }

    [Fact]
    public void DropoutRunsOnlyInTraining()
    {
        using var scope = NewDisposeScope();
        var (layer, x) = Layer();
        layer.AddAdapter("a", new LoraAdapterSettings(2, 2, Dropout: 0.5));
        layer.SetActiveAdapters(["a"]);
        using (no_grad())
        {
            layer.LoraB("a").normal_();
        }
        var evalOut = layer.forward(x);
        Assert.Equal(0.0, MaxDiff(evalOut, layer.forward(x)));
        layer.train();
        Assert.True(MaxDiff(evalOut, layer.forward(x)) > 1e-4, "training applies dropout to the adapter input");
    }

    [Fact]
    public void EmbeddingAdapterAddsScaledRowsOfBTimesA()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var embedding = new AdaptableEmbedding(10, 4);
        var ids = tensor(new long[] { 1, 7, 7, 0, 9, 3 }).reshape(2, 3);
        var before = embedding.forward(ids);
        embedding.AddAdapter("e", new LoraAdapterSettings(2, 6));   // scale 3
        embedding.SetActiveAdapters(["e"]);
        Assert.Equal(0.0, MaxDiff(before, embedding.forward(ids)));   // PEFT: A = 0, B random
        using (no_grad())
        {
            embedding.LoraEmbeddingA("e").normal_();
        }
        var table = embedding.weight.to(ScalarType.Float64) + 3.0 * embedding.LoraEmbeddingB("e").to(ScalarType.Float64).matmul(embedding.LoraEmbeddingA("e").to(ScalarType.Float64)).t();
        var expected = table.index_select(0, ids.reshape(-1)).reshape(2, 3, 4);
        Assert.True(MaxDiff(expected, embedding.forward(ids)) < 1e-5);
        Assert.True(MaxDiff(table, embedding.weight.to(ScalarType.Float64) + embedding.DeltaWeight("e")) < 1e-5);
    }

    [Fact]
    public void DoraOnAnEmbeddingIsRefused()
    {
        var embedding = new AdaptableEmbedding(10, 4);
        var error = Assert.Throws<NotSupportedException>(() => embedding.AddAdapter("d", new LoraAdapterSettings(2, 2, UseDora: true)));
        Assert.Contains("DoRA is not supported on embedding", error.Message);
    }

    [Theory]
    [InlineData(0, 8.0)]
    [InlineData(-1, 8.0)]
    [InlineData(4, -1.0)]
    [InlineData(4, 0.0)]
    public void RankBelowOneOrNonPositiveAlphaIsAnArgumentOutOfRange(int rank, double alpha)
    {
        var layer = new AdaptableLinear(4, 4, false);
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.AddAdapter("a", new LoraAdapterSettings(rank, alpha)));
    }
}
