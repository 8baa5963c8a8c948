using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Analysis;

/// <summary>
/// One row of the LoRA paper's Table 7 for one module: ‖UᵀWV‖_F with U, V the top-r singular directions of ΔW,
/// of W itself, or of a random matrix, beside ‖W‖_F and ‖ΔW‖_F.
/// </summary>
/// <param name="Module">The module's path.</param>
/// <param name="Rank">The adapter's r (the dimension of every projection).</param>
/// <param name="ProjectionOnDeltaSubspace">‖UᵀWV‖_F on ΔW's own singular directions.</param>
/// <param name="ProjectionOnWeightSubspace">‖UᵀWV‖_F on W's top-r singular directions (= √(σ₁² + … + σ_r²) of W).</param>
/// <param name="ProjectionOnRandomSubspace">‖UᵀWV‖_F on random orthonormal r-frames.</param>
/// <param name="WeightNorm">‖W‖_F.</param>
/// <param name="DeltaNorm">‖ΔW‖_F.</param>
public sealed record ModuleAmplification(string Module, int Rank, double ProjectionOnDeltaSubspace, double ProjectionOnWeightSubspace,
    double ProjectionOnRandomSubspace, double WeightNorm, double DeltaNorm)
{
    /// <summary>
    /// ‖ΔW‖_F / ‖UᵀWV‖_F: how much ΔW amplifies the directions of W it lies along (≈ 21.5 for GPT-3's Wq at r = 4);
    /// null when W has no component there (the ratio is unbounded) or ΔW = 0.
    /// </summary>
    public double? Amplification => ProjectionOnDeltaSubspace > 0 && DeltaNorm > 0 ? DeltaNorm / ProjectionOnDeltaSubspace : null;
}

/// <summary>Section 7.3: how ΔW relates to W, and the amplification factor (Table 7, appendix H.4).</summary>
public static class WeightAmplification
{
    /// <summary>The seed of the random subspaces unless one is given.</summary>
    public const int DefaultSeed = 0;

    /// <summary>Table 7 for every module of the adapter.</summary>
    public static IReadOnlyList<ModuleAmplification> Compute(LoraAdapterFactors adapter, BaseModelWeights baseWeights, int seed = DefaultSeed)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(baseWeights);
        using var generator = new TorchSharp.torch.Generator((ulong)(uint)seed);
        var rows = new List<ModuleAmplification>();
        foreach (var module in adapter.Modules)
        {
            using var scope = NewDisposeScope();
            rows.Add(Of(module, baseWeights.WeightTensor(module), generator));
        }
        return rows;
    }

    /// <summary>Table 7 for one module, given W [out, in].</summary>
    public static ModuleAmplification Of(LoraModuleFactors module, DenseMatrix weight, int seed = DefaultSeed)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(weight);
        using var generator = new TorchSharp.torch.Generator((ulong)(uint)seed);
        using var scope = NewDisposeScope();
        return Of(module, weight.ToTensor(), generator);
    }

    private static ModuleAmplification Of(LoraModuleFactors module, Tensor weight, TorchSharp.torch.Generator generator)
    {
        if (weight.shape[0] != module.OutFeatures || weight.shape[1] != module.InFeatures)
        {
            throw new ArgumentException($"W is [{string.Join(", ", weight.shape)}] but ΔW of '{module.Module}' is [{module.OutFeatures}, {module.InFeatures}].", nameof(weight));
        }
        var (u, s, v) = LowRankSvd.Decompose(module.B.ToTensor(), module.A.ToTensor(), module.Scale);
        int r = module.Rank;
        var weightSingularValues = linalg.svdvals(weight);
        int top = Math.Min(r, (int)weightSingularValues.shape[0]);
        var randomU = RandomFrame(module.OutFeatures, (int)u.shape[1], generator);
        var randomV = RandomFrame(module.InFeatures, (int)v.shape[1], generator);
        return new ModuleAmplification(
            module.Module,
            r,
            ProjectedNorm(weight, u, v),
            weightSingularValues[..top].square().sum().sqrt().item<double>(),
            ProjectedNorm(weight, randomU, randomV),
            linalg.norm(weight).item<double>(),
            s.square().sum().sqrt().item<double>());
    }

    // ‖Uᵀ·W·V‖_F: the paper writes UᵀWVᵀ with V holding right-singular vectors as rows.
    private static double ProjectedNorm(Tensor weight, Tensor u, Tensor v) => linalg.norm(u.t().matmul(weight).matmul(v)).item<double>();

    // An orthonormal n×k frame drawn uniformly (QR of a Gaussian matrix, signs fixed by R's diagonal).
    private static Tensor RandomFrame(int n, int k, TorchSharp.torch.Generator generator)
    {
        var (q, r) = linalg.qr(randn([n, k], ScalarType.Float64, generator: generator));
        return q.mul(r.diagonal().sign());
    }
}
