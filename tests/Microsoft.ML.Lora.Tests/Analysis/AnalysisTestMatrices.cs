using Microsoft.ML.Lora.Analysis;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Analysis;

/// <summary>Constructed matrices with known singular structure for the analysis tests (float64, seeded).</summary>
internal static class AnalysisTestMatrices
{
    public const string Module = "model.layers.0.self_attn.q_proj";

    public static Tensor Gaussian(long rows, long columns, int seed)
    {
        using var generator = new Generator((ulong)seed);
        return randn([rows, columns], ScalarType.Float64, generator: generator);
    }

    /// <summary>An n×k matrix with orthonormal columns.</summary>
    public static Tensor Orthonormal(long n, long k, int seed) => linalg.qr(Gaussian(n, k, seed)).Q;

    /// <summary>W = U·diag(σ)·Vᵀ for random orthonormal U [rows, q], V [columns, q], q = σ.Length.</summary>
    public static (Tensor W, Tensor U, Tensor V) WithSingularValues(long rows, long columns, double[] sigma, int seed)
    {
        var u = Orthonormal(rows, sigma.Length, seed);
        var v = Orthonormal(columns, sigma.Length, seed + 1);
        return (u.matmul(diag(tensor(sigma, ScalarType.Float64))).matmul(v.t()), u, v);
    }

    public static LoraModuleFactors Factors(Tensor b, Tensor a, double scale = 1, string module = Module) =>
        new(module, DenseMatrix.FromTensor(a), DenseMatrix.FromTensor(b), scale, FanInFanOut: false, IsEmbedding: false);

    public static double MaxAbsDiff(Tensor x, Tensor y) => (x - y).abs().max().item<double>();

    public static double MaxAbsDiff(double[] x, double[] y)
    {
        Assert.Equal(x.Length, y.Length);
        return x.Zip(y, (p, q) => Math.Abs(p - q)).DefaultIfEmpty(0).Max();
    }
}
