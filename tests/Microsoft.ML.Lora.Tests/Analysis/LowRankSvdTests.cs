using Microsoft.ML.Lora.Analysis;
using static Microsoft.ML.Lora.Tests.Analysis.AnalysisTestMatrices;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Analysis;

/// <summary>The factor route (QR of B and Aᵀ, SVD of the core) against LAPACK's SVD of the materialised ΔW.</summary>
public class LowRankSvdTests
{
    [Theory]
    [InlineData(40, 30, 5, 2.0)]   // r ≪ out, in
    [InlineData(30, 40, 5, 0.5)]
    [InlineData(12, 12, 12, 1.0)]  // full rank
    [InlineData(6, 50, 8, 1.0)]    // r > out: the core is 6×8
    [InlineData(50, 6, 8, 4.0)]    // r > in
    public void MatchesTheDenseSvdOfTheMaterialisedProduct(int outFeatures, int inFeatures, int rank, double scale)
    {
        using var scope = NewDisposeScope();
        var b = Gaussian(outFeatures, rank, seed: outFeatures);
        var a = Gaussian(rank, inFeatures, seed: inFeatures + 100);
        var delta = b.matmul(a).mul(scale);
        var (denseU, denseS, denseVh) = linalg.svd(delta, fullMatrices: false);

        var low = LowRankSvd.Decompose(Factors(b, a, scale));
        int q = Math.Min(rank, Math.Min(outFeatures, inFeatures));
        Assert.Equal(q, low.SingularValues.Length);
        Assert.True(MaxAbsDiff(low.SingularValues, denseS[..q].data<double>().ToArray()) <= 1e-9);

        var u = low.U.ToTensor();
        var v = low.V.ToTensor();
        Assert.Equal([outFeatures, (long)q], u.shape);
        Assert.Equal([inFeatures, (long)q], v.shape);
        var rebuilt = u.matmul(diag(tensor(low.SingularValues, ScalarType.Float64))).matmul(v.t());
        Assert.True(MaxAbsDiff(rebuilt, delta) <= 1e-9, "U·diag(S)·Vᵀ = ΔW");
        Assert.True(MaxAbsDiff(u.t().matmul(u), eye(q, dtype: ScalarType.Float64)) <= 1e-9, "U has orthonormal columns");
        Assert.True(MaxAbsDiff(v.t().matmul(v), eye(q, dtype: ScalarType.Float64)) <= 1e-9, "V has orthonormal columns");
        // Random factors have distinct singular values, so each singular vector is unique up to its sign.
        var alignU = u.mul(denseU[.., ..q]).sum(dim: 0).abs();
        var alignV = v.mul(denseVh[..q].t()).sum(dim: 0).abs();
        Assert.True(MaxAbsDiff(alignU, ones(q, dtype: ScalarType.Float64)) <= 1e-9);
        Assert.True(MaxAbsDiff(alignV, ones(q, dtype: ScalarType.Float64)) <= 1e-9);
    }

    [Fact]
    public void ZeroUpdateHasZeroSpectrum()
    {
        using var scope = NewDisposeScope();
        var low = LowRankSvd.Decompose(Factors(zeros(16, 4, ScalarType.Float64), Gaussian(4, 10, seed: 3)));
        Assert.All(low.SingularValues, s => Assert.Equal(0, s, 12));
    }

    [Fact]
    public void FactorsOfDifferentRanksAreRejected()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => LowRankSvd.Decompose(DenseMatrix.FromTensor(Gaussian(5, 3, 1)), DenseMatrix.FromTensor(Gaussian(2, 7, 2)), 1));
    }
}
