using Microsoft.ML.Lora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Performance;

public class LinearCrossEntropyTests
{
    /// <summary>Loss and gradients of the unfused reference: logits → fp32 cross-entropy per row → masked mean.</summary>
    private static (float Loss, Tensor HiddenGrad, Tensor WeightGrad) Reference(Tensor hidden, Tensor weight, Tensor targets, Tensor mask)
    {
        var h = hidden.detach().clone().requires_grad_(true);
        var w = weight.detach().clone().requires_grad_(true);
        var perRow = nn.functional.cross_entropy(nn.functional.linear(h, w).to(ScalarType.Float32), targets, reduction: nn.Reduction.None);
        var loss = (perRow * mask).sum() / mask.sum();
        loss.backward();
        return (loss.item<float>(), h.grad!, w.grad!);
    }

    [Theory]
    [InlineData(ScalarType.Float32, 1e-5)]
    [InlineData(ScalarType.BFloat16, 2e-2)]
    public void EqualsLogitsThenCrossEntropy(ScalarType dtype, double tolerance)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        // 70 rows over a 300-word vocabulary: several blocks would only appear with a larger vocabulary, so the
        // block test below covers that; here the arithmetic is checked against autograd's.
        var hidden = randn([70, 24], generator: generator).to(dtype);
        var weight = (randn([300, 24], generator: generator) * 0.3).to(dtype);
        var targets = randint(0, 300, [70], generator: generator);
        var mask = (rand([70], generator: generator) > 0.3).to(ScalarType.Float32);
        var (expectedLoss, expectedHidden, expectedWeight) = Reference(hidden, weight, targets, mask);

        var h = hidden.detach().clone().requires_grad_(true);
        var w = weight.detach().clone().requires_grad_(true);
        var loss = LinearCrossEntropy.Loss(h, w, targets, mask / mask.sum());
        loss.backward();

        Assert.Equal(expectedLoss, loss.item<float>(), tolerance);
        Assert.True(h.grad!.to(ScalarType.Float32).allclose(expectedHidden.to(ScalarType.Float32), rtol: tolerance, atol: tolerance), "hidden gradient differs");
        Assert.True(w.grad!.to(ScalarType.Float32).allclose(expectedWeight.to(ScalarType.Float32), rtol: tolerance, atol: tolerance), "weight gradient differs");
    }

    [Fact]
    public void ConfidentRowsKeepTheirSmallGradientsInBFloat16()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        // Hidden rows close to their target's weight row: p(target) ≈ 1, so ∂z[target] = w·(p − 1) is small and
        // would drown in bf16 rounding if it were formed after rounding (the gradient is p·W − W[target]).
        var weight = (randn([64, 16], generator: generator) * 0.5).to(ScalarType.BFloat16);
        var targets = randint(0, 64, [32], generator: generator);
        var hidden = (weight.index_select(0, targets).to(ScalarType.Float32) * 60 + randn([32, 16], generator: generator) * 0.05).to(ScalarType.BFloat16);
        var mask = ones(32);
        // The reference is autocast's: bf16 logits, fp32 cross-entropy, its gradient cast to bf16 for the product.
        var (_, referenceHidden, _) = Reference(hidden, weight, targets, mask);
        var expectedHidden = referenceHidden.to(ScalarType.Float32);

        var h = hidden.detach().clone().requires_grad_(true);
        LinearCrossEntropy.Loss(h, weight, targets, mask / 32).backward();

        var actual = h.grad!.to(ScalarType.Float32);
        double scale = expectedHidden.abs().max().item<float>();
        double error = actual.sub(expectedHidden).abs().max().item<float>();
        Assert.True(scale < 5e-3, $"the rows should be confident (largest gradient {scale})");
        Assert.True(error <= 0.02 * scale, $"gradient off by {error} where the largest entry is {scale}");
    }

    [Fact]
    public void ManyBlocksOverALargeVocabularyAndFrozenWeight()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(6);
        // 2^23 / 200,000 = 41 rows per block: 100 rows take three blocks, the last one partial.
        var hidden = randn([100, 8], generator: generator);
        var weight = randn([200_000, 8], generator: generator) * 0.1;
        var targets = randint(0, 200_000, [100], generator: generator);
        var mask = ones(100);
        var (expectedLoss, expectedHidden, _) = Reference(hidden, weight, targets, mask);

        var h = hidden.detach().clone().requires_grad_(true);
        var loss = LinearCrossEntropy.Loss(h, weight, targets, mask / 100);
        loss.backward();

        Assert.Equal(expectedLoss, loss.item<float>(), 1e-4);
        Assert.True(h.grad!.allclose(expectedHidden, rtol: 1e-4, atol: 1e-6));
        Assert.Null(weight.grad);
    }

    [Fact]
    public void WithoutGradientsOnlyTheLossIsComputedAndShapesAreChecked()
    {
        using var scope = NewDisposeScope();
        var hidden = randn([4, 8]);
        var weight = randn([10, 8]);
        var targets = tensor(new long[] { 1, 2, 3, 4 });
        using (no_grad())
        {
            var loss = LinearCrossEntropy.Loss(hidden, weight, targets, full([4], 0.25f));
            var reference = nn.functional.cross_entropy(nn.functional.linear(hidden, weight), targets);
            Assert.Equal(reference.item<float>(), loss.item<float>(), 1e-5);
            Assert.False(loss.requires_grad);
        }
        Assert.Throws<ArgumentException>(() => LinearCrossEntropy.Loss(hidden, randn([10, 7]), targets, ones(4)));
    }
}
