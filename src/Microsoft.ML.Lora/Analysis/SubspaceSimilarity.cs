using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Analysis;

/// <summary>Which singular vectors of an adapter span the subspace that <see cref="SubspaceSimilarity"/> compares.</summary>
public enum SubspaceBasis
{
    /// <summary>The right-singular vectors of lora_A (in-feature space): the LoRA paper's choice (section 7.2).</summary>
    RightSingularVectorsOfA,

    /// <summary>The left-singular vectors of lora_B (out-feature space): the alternative the paper's footnote names.</summary>
    LeftSingularVectorsOfB,

    /// <summary>
    /// The right-singular vectors of ΔW = scale·B·A (in-feature space), ordered by ΔW's singular values: A's row
    /// space weighted by what B made of it, which tells apart the learned directions from A's random start.
    /// </summary>
    RightSingularVectorsOfDeltaW,
}

/// <summary>φ between one module of two adapters.</summary>
/// <param name="Module">The module's path, common to both adapters.</param>
/// <param name="Phi">Phi[i−1][j−1] = φ(i, j) for i ≤ r₁ (first adapter) and j ≤ r₂ (second).</param>
/// <param name="SpaceDimension">n, the dimension of the space the bases live in (in-features for A, out-features for B).</param>
public sealed record ModuleSimilarity(string Module, double[][] Phi, int SpaceDimension)
{
    /// <summary>What φ(i, j) averages to for two random subspaces of dimensions i and j: max(i, j)/n.</summary>
    public double RandomBaseline(int i, int j) => Math.Max(i, j) / (double)SpaceDimension;
}

/// <summary>
/// The LoRA paper's normalised subspace similarity (section 7.2, Figures 3 and 4):
/// φ(A₁, A₂, i, j) = ‖U₁,ᵢᵀ U₂,ⱼ‖_F² / min(i, j) ∈ [0, 1], where U_{·,i} holds the top-i singular vectors:
/// 1 when one top subspace contains the other, 0 when they are orthogonal. Two random subspaces of dimensions
/// i and j in ℝⁿ give max(i, j)/n on average — the baseline to read the numbers against.
/// </summary>
public static class SubspaceSimilarity
{
    /// <summary>φ for every module both adapters adapt.</summary>
    /// <exception cref="ArgumentException">The adapters share no module, or a shared module has different shapes.</exception>
    public static IReadOnlyList<ModuleSimilarity> Compute(LoraAdapterFactors first, LoraAdapterFactors second, SubspaceBasis basis = SubspaceBasis.RightSingularVectorsOfA)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        var others = second.Modules.ToDictionary(m => m.Module, StringComparer.Ordinal);
        var pairs = first.Modules.Where(m => others.ContainsKey(m.Module)).Select(m => (m, others[m.Module])).ToList();
        if (pairs.Count == 0)
        {
            throw new ArgumentException($"'{first.Source}' and '{second.Source}' adapt no module in common (e.g. {first.Modules[0].Module} vs {second.Modules[0].Module}): they are not adapters of one base.");
        }
        return [.. pairs.Select(p => new ModuleSimilarity(p.Item1.Module, Between(p.Item1, p.Item2, basis),
            basis == SubspaceBasis.LeftSingularVectorsOfB ? p.Item1.OutFeatures : p.Item1.InFeatures))];
    }

    /// <summary>φ between one module of two adapters.</summary>
    public static double[][] Between(LoraModuleFactors first, LoraModuleFactors second, SubspaceBasis basis = SubspaceBasis.RightSingularVectorsOfA)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (first.InFeatures != second.InFeatures || first.OutFeatures != second.OutFeatures)
        {
            throw new ArgumentException($"Module '{first.Module}' is [{first.OutFeatures}, {first.InFeatures}] in one adapter and [{second.OutFeatures}, {second.InFeatures}] in the other: they are not adapters of one base.");
        }
        using var scope = NewDisposeScope();
        return Phi(Basis(first, basis), Basis(second, basis));
    }

    /// <summary>φ(i, j) from two orthonormal bases given as columns in order of importance, [n, r₁] and [n, r₂].</summary>
    public static double[][] Phi(DenseMatrix first, DenseMatrix second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        using var scope = NewDisposeScope();
        return Phi(first.ToTensor(), second.ToTensor());
    }

    /// <summary>The singular vectors of one adapter module as columns, most important first (the caller's scope owns them).</summary>
    internal static Tensor Basis(LoraModuleFactors module, SubspaceBasis basis)
    {
        switch (basis)
        {
            case SubspaceBasis.LeftSingularVectorsOfB:
                return linalg.svd(module.B.ToTensor(), fullMatrices: false).U;
            case SubspaceBasis.RightSingularVectorsOfDeltaW:
                return LowRankSvd.Decompose(module.B.ToTensor(), module.A.ToTensor(), module.Scale).V;
            default:
                return linalg.svd(module.A.ToTensor(), fullMatrices: false).Vh.t();
        }
    }

    private static double[][] Phi(Tensor first, Tensor second)
    {
        if (first.shape[0] != second.shape[0])
        {
            throw new ArgumentException($"The bases live in spaces of different dimensions ({first.shape[0]} and {second.shape[0]}).");
        }
        // S[i][j] = ‖U₁[:, :i]ᵀ U₂[:, :j]‖_F² is a 2-D prefix sum of the squared overlaps.
        var overlap = first.t().matmul(second).square().cumsum(0).cumsum(1);
        int r1 = (int)overlap.shape[0], r2 = (int)overlap.shape[1];
        var sums = overlap.contiguous().data<double>().ToArray();
        var phi = new double[r1][];
        for (int i = 0; i < r1; i++)
        {
            phi[i] = new double[r2];
            for (int j = 0; j < r2; j++)
            {
                phi[i][j] = sums[(i * r2) + j] / Math.Min(i + 1, j + 1);
            }
        }
        return phi;
    }
}
