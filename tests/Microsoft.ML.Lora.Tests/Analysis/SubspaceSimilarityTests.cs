using Microsoft.ML.Lora.Analysis;
using static Microsoft.ML.Lora.Tests.Analysis.AnalysisTestMatrices;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Analysis;

/// <summary>φ(A₁, A₂, i, j) = ‖U₁,ᵢᵀU₂,ⱼ‖²_F / min(i, j) on subspaces whose overlap is known.</summary>
public class SubspaceSimilarityTests
{
    [Fact]
    public void IdenticalSubspacesGiveOneEverywhere()
    {
        using var scope = NewDisposeScope();
        var a = Gaussian(6, 40, seed: 1);
        var module = Factors(Gaussian(20, 6, seed: 2), a);
        var phi = SubspaceSimilarity.Between(module, module);
        Assert.Equal(6, phi.Length);
        Assert.All(phi.SelectMany(row => row), p => Assert.Equal(1, p, 12));

        // The same row space in another basis (A' = M·A): the full subspaces coincide, φ(r, r) = 1.
        var mixed = Factors(Gaussian(20, 6, seed: 3), Gaussian(6, 6, seed: 4).matmul(a));
        Assert.Equal(1, SubspaceSimilarity.Between(module, mixed)[5][5], 12);
    }

    [Fact]
    public void OrthogonalSubspacesGiveZeroEverywhere()
    {
        using var scope = NewDisposeScope();
        // A₁'s rows live in coordinates 0..9 of ℝ³⁰, A₂'s in 10..29.
        var a1 = cat([Gaussian(4, 10, seed: 5), zeros(4, 20, ScalarType.Float64)], 1);
        var a2 = cat([zeros(8, 10, ScalarType.Float64), Gaussian(8, 20, seed: 6)], 1);
        var phi = SubspaceSimilarity.Between(Factors(Gaussian(12, 4, seed: 7), a1), Factors(Gaussian(12, 8, seed: 8), a2));
        Assert.Equal((4, 8), (phi.Length, phi[0].Length));
        Assert.All(phi.SelectMany(row => row), p => Assert.Equal(0, p, 12));
    }

    [Fact]
    public void HandComputedOverlapFollowsTheSingularValueOrder()
    {
        using var scope = NewDisposeScope();
        // A₂'s rows are orthogonal: its top right-singular vector is e₃ (σ = 3), the next (e₁ + e₂)/√2 (σ = √2).
        var a1 = tensor(new double[] { 2, 0, 0 }, [1, 3], ScalarType.Float64);
        var a2 = tensor(new double[] { 1, 1, 0, 0, 0, 3 }, [2, 3], ScalarType.Float64);
        var phi = SubspaceSimilarity.Between(Factors(ones(5, 1, ScalarType.Float64), a1), Factors(ones(5, 2, ScalarType.Float64), a2));
        Assert.Equal(0, phi[0][0], 12);    // e₁ ⟂ e₃
        Assert.Equal(0.5, phi[0][1], 12);  // (e₁ · (e₁ + e₂)/√2)² = 1/2
    }

    [Fact]
    public void BasesOfBAndOfDeltaWAreOffered()
    {
        using var scope = NewDisposeScope();
        // Same B column space, unrelated A: φ on B's left-singular vectors is 1 at (r, r), on A's it is not.
        var b = Gaussian(30, 3, seed: 9);
        var first = Factors(b, Gaussian(3, 25, seed: 10));
        var second = Factors(b.matmul(Gaussian(3, 3, seed: 11)), Gaussian(3, 25, seed: 12));
        Assert.Equal(1, SubspaceSimilarity.Between(first, second, SubspaceBasis.LeftSingularVectorsOfB)[2][2], 12);
        Assert.True(SubspaceSimilarity.Between(first, second)[2][2] < 0.9);

        // ΔW's right-singular vectors span A's row space, so at (r, r) the ΔW basis agrees with the A basis.
        var self = SubspaceSimilarity.Between(first, Factors(Gaussian(30, 3, seed: 13), first.A.ToTensor()), SubspaceBasis.RightSingularVectorsOfDeltaW);
        Assert.Equal(1, self[2][2], 12);
    }

    [Fact]
    public void RandomSubspacesAverageToTheBaseline()
    {
        using var scope = NewDisposeScope();
        // E φ(i, j) = max(i, j)/n for independent uniformly random subspaces; 40 pairs in ℝ⁶⁴ at (2, 8) give ≈ 1/8.
        var values = Enumerable.Range(0, 40).Select(s =>
            SubspaceSimilarity.Between(Factors(ones(4, 2, ScalarType.Float64), Gaussian(2, 64, 1000 + s)), Factors(ones(4, 8, ScalarType.Float64), Gaussian(8, 64, 2000 + s)))[1][7]).ToList();
        Assert.InRange(values.Average(), 0.125 * 0.75, 0.125 * 1.25);
    }

    [Fact]
    public void ModulesOfDifferentShapesAreRejected()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentException>(() => SubspaceSimilarity.Between(Factors(Gaussian(8, 2, 1), Gaussian(2, 10, 2)), Factors(Gaussian(8, 2, 3), Gaussian(2, 12, 4))));
        Assert.Contains(Module, ex.Message);
    }
}
