using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Analysis;

/// <summary>
/// The thin SVD of ΔW = scale·B·A computed through its factors: B = Q_B·R_B and Aᵀ = Q_A·R_A (reduced QR), so
/// ΔW = Q_B·(scale·R_B·R_Aᵀ)·Q_Aᵀ and only the small core (at most r×r) needs an SVD. ΔW itself ([out, in], often
/// thousands squared) is never formed; the cost is O((out + in)·r²) instead of O(out·in·min(out, in)).
/// </summary>
public static class LowRankSvd
{
    /// <summary>The decomposition as managed matrices: ΔW = U·diag(S)·Vᵀ.</summary>
    public static LowRankDecomposition Decompose(DenseMatrix b, DenseMatrix a, double scale)
    {
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(a);
        using var scope = NewDisposeScope();
        var (u, s, v) = Decompose(b.ToTensor(), a.ToTensor(), scale);
        return new LowRankDecomposition(DenseMatrix.FromTensor(u), s.data<double>().ToArray(), DenseMatrix.FromTensor(v));
    }

    /// <summary>The decomposition of one module's ΔW.</summary>
    public static LowRankDecomposition Decompose(LoraModuleFactors module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return Decompose(module.B, module.A, module.Scale);
    }

    /// <summary>
    /// U [out, q], S [q] (descending) and V [in, q] with q = min(r, out, in), from float64 factors B [out, r] and
    /// A [r, in]. The tensors belong to the caller's dispose scope.
    /// </summary>
    internal static (Tensor U, Tensor S, Tensor V) Decompose(Tensor b, Tensor a, double scale)
    {
        if (b.dim() != 2 || a.dim() != 2 || b.shape[1] != a.shape[0])
        {
            throw new ArgumentException($"B [{string.Join(", ", b.shape)}] and A [{string.Join(", ", a.shape)}] are not the factors of one product B·A.");
        }
        var (qb, rb) = linalg.qr(b);
        var (qa, ra) = linalg.qr(a.t());
        var core = rb.matmul(ra.t()).mul(scale);
        var (uc, s, vhc) = linalg.svd(core, fullMatrices: false);
        return (qb.matmul(uc), s, qa.matmul(vhc.t()));
    }
}

/// <summary>A thin SVD ΔW = U·diag(S)·Vᵀ.</summary>
/// <param name="U">Left singular vectors as columns, [out, q].</param>
/// <param name="SingularValues">The singular values, descending, q of them.</param>
/// <param name="V">Right singular vectors as columns, [in, q].</param>
public sealed record LowRankDecomposition(DenseMatrix U, double[] SingularValues, DenseMatrix V);
