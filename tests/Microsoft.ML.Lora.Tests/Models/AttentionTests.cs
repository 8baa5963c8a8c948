using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>
/// The written-out attention (small heads, 16-bit inputs) against libtorch's scaled_dot_product_attention kernel,
/// values and gradients, and the TorchSharp binding it relies on.
/// </summary>
public class AttentionTests
{
    [Fact]
    public void BatchedAddProductsComputesInputPlusScaledProducts()
    {
        // Pins TorchSharp 0.107's rotated baddbmm binding: if an upgrade fixes it, this fails instead of attention.
        using var scope = NewDisposeScope();
        manual_seed(1);
        var input = randn(3, 4);                 // broadcast over the batch
        var left = randn(2, 3, 5);
        var right = randn(2, 5, 4);
        var result = TorchSharpCalls.BatchedAddProducts(input, left, right, beta: 0.5f, alpha: 0.25f);
        var expected = input.mul(0.5).add(left.bmm(right).mul(0.25));
        Assert.Equal(new long[] { 2, 3, 4 }, result.shape);
        Assert.True(result.allclose(expected, rtol: 1e-6, atol: 1e-6));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SmallHeadsMatchTheKernelInValuesAndGradients(bool withPaddingMask)
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        // Head size 8 takes the written-out path; the reference is libtorch's kernel on the same inputs in float64.
        var q = randn(2, 3, 5, 8, ScalarType.Float64);
        var k = randn(2, 3, 5, 8, ScalarType.Float64);
        var v = randn(2, 3, 5, 8, ScalarType.Float64);
        var upstream = randn(2, 3, 5, 8, ScalarType.Float64);
        Tensor? mask = withPaddingMask ? AttentionMask.Additive(tensor(new long[] { 1, 1, 0, 1, 1, 1, 1, 1, 1, 1 }, [2, 5]), 5, causal: true, ScalarType.Float32) : null;

        var (ours, oursGrads) = Run(q, k, v, upstream, (a, b, c) => AttentionHeads.Attend(a, b, c, mask, causal: true));
        var (reference, referenceGrads) = Run(q, k, v, upstream, (a, b, c) => mask is null
            ? nn.functional.scaled_dot_product_attention(a, b, c, is_casual: true)
            : nn.functional.scaled_dot_product_attention(a, b, c, attn_mask: mask.to(ScalarType.Float64)));

        // Key 2 of row 0 is masked out; every query still sees at least one key (key 0), as in any real batch.
        Assert.True(ours.allclose(reference, rtol: 1e-5, atol: 1e-5), "attention values");
        for (int i = 0; i < 3; i++)
        {
            Assert.True(oursGrads[i].allclose(referenceGrads[i], rtol: 1e-4, atol: 1e-5), $"gradient of input {i}");
        }
    }

    [Theory]
    [InlineData(8, false)]    // written-out path
    [InlineData(8, true)]
    [InlineData(64, false)]   // the kernel (fp32 heads of 64)
    public void GroupedKeyValueHeadsEqualRepeatingThem(int depth, bool withPaddingMask)
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        // 6 query heads over 2 key/value heads: query heads 0–2 read kv head 0, 3–5 kv head 1 (HF's repeat_kv).
        var q = randn(2, 6, 5, depth, ScalarType.Float64);
        var k = randn(2, 2, 5, depth, ScalarType.Float64);
        var v = randn(2, 2, 5, depth, ScalarType.Float64);
        var upstream = randn(2, 6, 5, depth, ScalarType.Float64);
        Tensor? mask = withPaddingMask ? AttentionMask.Additive(tensor(new long[] { 1, 1, 0, 1, 1, 1, 1, 1, 1, 1 }, [2, 5]), 5, causal: true, ScalarType.Float64) : null;

        var (grouped, groupedGrads) = Run(q, k, v, upstream, (a, b, c) => AttentionHeads.Attend(a, b, c, mask, causal: true));
        var (repeated, repeatedGrads) = Run(q, k, v, upstream, (a, b, c) =>
            AttentionHeads.Attend(a, b.repeat_interleave(3, dim: 1), c.repeat_interleave(3, dim: 1), mask, causal: true));

        Assert.True(grouped.allclose(repeated, rtol: 1e-10, atol: 1e-10), "attention values");
        for (int i = 0; i < 3; i++)
        {
            Assert.True(groupedGrads[i].allclose(repeatedGrads[i], rtol: 1e-10, atol: 1e-10), $"gradient of input {i}");
        }
        Assert.Throws<ArgumentException>(() => AttentionHeads.Attend(q, randn(2, 4, 5, depth, ScalarType.Float64), randn(2, 4, 5, depth, ScalarType.Float64), null, causal: true));
    }

    [Theory]
    [InlineData(37, 8)]     // blocks of 16, 16 and 5 positions
    [InlineData(37, 64)]    // heads of 64 take the blocks too (fp32/fp64 kernels only beyond MaxBlockedPositions)
    [InlineData(32, 8)]     // two whole blocks
    [InlineData(16, 8)]     // one block: the unblocked products
    public void CausalBlocksMatchTheKernelInValuesAndGradients(int positions, int depth)
    {
        using var scope = NewDisposeScope();
        long blockBefore = AttentionHeads.CausalBlock;
        try
        {
            AttentionHeads.CausalBlock = 16;
            manual_seed(5);
            // 4 query heads over 2 key/value heads; float64 against the kernel.
            var q = randn(2, 4, positions, depth, ScalarType.Float64);
            var k = randn(2, 2, positions, depth, ScalarType.Float64);
            var v = randn(2, 2, positions, depth, ScalarType.Float64);
            var upstream = randn(2, 4, positions, depth, ScalarType.Float64);

            var (ours, oursGrads) = Run(q, k, v, upstream, (a, b, c) => AttentionHeads.Attend(a, b, c, null, causal: true));
            var (reference, referenceGrads) = Run(q, k, v, upstream, (a, b, c) =>
                nn.functional.scaled_dot_product_attention(a, b.repeat_interleave(2, dim: 1), c.repeat_interleave(2, dim: 1), is_casual: true));

            // The scale goes to the product as a float (≈1e-8 relative); a wrong block or mask is off by O(1).
            Assert.True(ours.allclose(reference, rtol: 1e-6, atol: 1e-7), $"attention values differ by {ours.sub(reference).abs().max().item<double>()}");
            for (int i = 0; i < 3; i++)
            {
                Assert.True(oursGrads[i].allclose(referenceGrads[i], rtol: 1e-6, atol: 1e-7), $"gradient of input {i}");
            }
        }
        finally
        {
            AttentionHeads.CausalBlock = blockBefore;
        }
    }

    [Fact]
    public void BFloat16HeadsStayCloseToTheFloat32Result()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var q = randn(1, 2, 16, 64);
        var k = randn(1, 2, 16, 64);
        var v = randn(1, 2, 16, 64);
        var expected = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        var actual = AttentionHeads.Attend(q.to(ScalarType.BFloat16), k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16), null, causal: true);
        Assert.Equal(ScalarType.BFloat16, actual.dtype);
        double error = actual.to(ScalarType.Float32).sub(expected).abs().max().item<float>();
        Assert.InRange(error, 0, 0.05);   // bf16 keeps ~3 significant digits; a wrong mask or scale is off by ~1
    }

    private static (Tensor Output, Tensor[] Gradients) Run(Tensor q, Tensor k, Tensor v, Tensor upstream, Func<Tensor, Tensor, Tensor, Tensor> attend)
    {
        var inputs = new[] { q, k, v }.Select(t => t.detach().clone().requires_grad_()).ToArray();
        var output = attend(inputs[0], inputs[1], inputs[2]);
        output.backward([upstream]);
        return (output.detach(), inputs.Select(t => t.grad!.clone()).ToArray());
    }
}
