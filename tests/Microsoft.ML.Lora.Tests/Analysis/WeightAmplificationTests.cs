using Microsoft.ML.Lora.Analysis;
using static Microsoft.ML.Lora.Tests.Analysis.AnalysisTestMatrices;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Analysis;

/// <summary>Table 7's projections and the amplification factor on updates built from W's own singular directions.</summary>
public class WeightAmplificationTests
{
    // W with a decaying spectrum, so its top directions carry most of it.
    private static readonly double[] WeightSigma = [20, 15, 10, 8, 3, 2, 1, 0.5, 0.25, 0.1];

    [Fact]
    public void UpdateEqualToTheRankRTruncationOfWAmplifiesByExactlyOne()
    {
        using var scope = NewDisposeScope();
        var (w, u, v) = WithSingularValues(30, 20, WeightSigma, seed: 1);
        const int r = 4;
        // ΔW = W_r = U_r·diag(σ_r)·V_rᵀ, stored as B = U_r·diag(σ_r)/scale, A = V_rᵀ.
        var b = u[.., ..r].matmul(diag(tensor(WeightSigma[..r], ScalarType.Float64))).div(4.0);
        var row = WeightAmplification.Of(Factors(b, v[.., ..r].t(), scale: 4.0), DenseMatrix.FromTensor(w));
        double truncationNorm = Math.Sqrt(WeightSigma[..r].Sum(s => s * s));
        Assert.Equal(1, row.Amplification!.Value, 9);
        Assert.Equal(truncationNorm, row.DeltaNorm, 9);
        Assert.Equal(truncationNorm, row.ProjectionOnDeltaSubspace, 9);
        Assert.Equal(truncationNorm, row.ProjectionOnWeightSubspace, 9);
        Assert.Equal(Math.Sqrt(WeightSigma.Sum(s => s * s)), row.WeightNorm, 9);
    }

    [Fact]
    public void UpdateAlongTheTopDirectionsOfWProjectsLargeAndAlongTheBottomOnesSmall()
    {
        using var scope = NewDisposeScope();
        var (w, u, v) = WithSingularValues(30, 20, WeightSigma, seed: 2);
        const int r = 3;
        var top = WeightAmplification.Of(Factors(u[.., ..r], v[.., ..r].t()), DenseMatrix.FromTensor(w));
        Assert.Equal(Math.Sqrt((20 * 20) + (15 * 15) + (10 * 10)), top.ProjectionOnDeltaSubspace, 9);
        Assert.Equal(top.ProjectionOnWeightSubspace, top.ProjectionOnDeltaSubspace, 9);
        Assert.True(top.ProjectionOnDeltaSubspace > 5 * top.ProjectionOnRandomSubspace, $"{top.ProjectionOnDeltaSubspace} vs random {top.ProjectionOnRandomSubspace}");
        Assert.Equal(Math.Sqrt(3), top.DeltaNorm, 9);

        // Directions W barely uses: a tiny projection, so a unit-size ΔW amplifies them a lot (the paper's finding).
        var bottom = WeightAmplification.Of(Factors(u[.., ^r..], v[.., ^r..].t()), DenseMatrix.FromTensor(w));
        double bottomNorm = Math.Sqrt((0.5 * 0.5) + (0.25 * 0.25) + (0.1 * 0.1));
        Assert.Equal(bottomNorm, bottom.ProjectionOnDeltaSubspace, 9);
        Assert.Equal(Math.Sqrt(3) / bottomNorm, bottom.Amplification!.Value, 9);
    }

    [Fact]
    public void ProjectionMatchesADenseReference()
    {
        using var scope = NewDisposeScope();
        var w = Gaussian(25, 18, seed: 3);
        var b = Gaussian(25, 5, seed: 4);
        var a = Gaussian(5, 18, seed: 5);
        var row = WeightAmplification.Of(Factors(b, a, scale: 0.3), DenseMatrix.FromTensor(w));
        // Reference: materialise ΔW, take its top-5 singular vectors from LAPACK, project W.
        var (du, ds, dvh) = linalg.svd(b.matmul(a).mul(0.3), fullMatrices: false);
        var reference = linalg.norm(du[.., ..5].t().matmul(w).matmul(dvh[..5].t())).item<double>();
        Assert.Equal(reference, row.ProjectionOnDeltaSubspace, 9);
        Assert.Equal(ds.square().sum().sqrt().item<double>(), row.DeltaNorm, 9);
        Assert.Equal(linalg.svdvals(w)[..5].square().sum().sqrt().item<double>(), row.ProjectionOnWeightSubspace, 9);
    }

    [Fact]
    public void RandomProjectionAveragesToItsExpectation()
    {
        using var scope = NewDisposeScope();
        // For uniformly random r-frames, E‖UᵀWV‖²_F = r²·‖W‖²_F / (out·in).
        var w = Gaussian(40, 30, seed: 6);
        var module = Factors(Gaussian(40, 4, seed: 7), Gaussian(4, 30, seed: 8));
        var squares = Enumerable.Range(0, 30).Select(seed => Math.Pow(WeightAmplification.Of(module, DenseMatrix.FromTensor(w), seed).ProjectionOnRandomSubspace, 2)).ToList();
        double expected = 16 * w.square().sum().item<double>() / (40 * 30);
        Assert.InRange(squares.Average(), expected * 0.75, expected * 1.25);
    }

    [Fact]
    public void ZeroUpdateHasNoAmplification()
    {
        using var scope = NewDisposeScope();
        var row = WeightAmplification.Of(Factors(zeros(10, 2, ScalarType.Float64), Gaussian(2, 8, seed: 9)), DenseMatrix.FromTensor(Gaussian(10, 8, seed: 10)));
        Assert.Null(row.Amplification);
        Assert.Equal(0, row.DeltaNorm, 12);
    }
}
