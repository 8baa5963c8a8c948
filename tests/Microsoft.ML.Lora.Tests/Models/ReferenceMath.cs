using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>
/// Plain double-precision loops that restate the published formulas (HF modeling code) one element at a time.
/// The tests compare the TorchSharp models against these, so a wrong convention (head order, rotation layout,
/// weight orientation, norm placement) shows up as a mismatch rather than agreeing with itself.
/// Sequences are [time][width] arrays for one batch row.
/// </summary>
internal static class ReferenceMath
{
    /// <summary>The model's parameters as flat double arrays, by HF key.</summary>
    public static Dictionary<string, double[]> Weights(nn.Module model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().to(ScalarType.Float64).contiguous().data<double>().ToArray());

    /// <summary>Rows of an embedding table [rows, width].</summary>
    public static double[][] Rows(double[] table, int width, IEnumerable<long> rows) =>
        rows.Select(r => table.AsSpan((int)r * width, width).ToArray()).ToArray();

    /// <summary>torch Linear: y[o] = Σ_i W[o, i]·x[i] + b[o] with W stored [out, in].</summary>
    public static double[][] Linear(double[][] x, double[] w, double[]? b, int outFeatures) =>
        x.Select(row =>
        {
            int inFeatures = row.Length;
            var y = new double[outFeatures];
            for (int o = 0; o < outFeatures; o++)
            {
                double s = b?[o] ?? 0;
                for (int i = 0; i < inFeatures; i++)
                {
                    s += w[o * inFeatures + i] * row[i];
                }
                y[o] = s;
            }
            return y;
        }).ToArray();

    /// <summary>GPT-2 Conv1D: y[o] = Σ_i x[i]·W[i, o] + b[o] with W stored [in, out].</summary>
    public static double[][] Conv1D(double[][] x, double[] w, double[] b) =>
        x.Select(row =>
        {
            int outFeatures = b.Length;
            var y = (double[])b.Clone();
            for (int i = 0; i < row.Length; i++)
            {
                for (int o = 0; o < outFeatures; o++)
                {
                    y[o] += row[i] * w[i * outFeatures + o];
                }
            }
            return y;
        }).ToArray();

    /// <summary>RMSNorm: w·x/√(mean(x²)+ε).</summary>
    public static double[][] RmsNorm(double[][] x, double[] w, double eps) =>
        x.Select(row =>
        {
            double rms = Math.Sqrt(row.Sum(v => v * v) / row.Length + eps);
            return row.Select((v, i) => w[i] * v / rms).ToArray();
        }).ToArray();

    /// <summary>LayerNorm: w·(x−μ)/√(σ²+ε) + b with the biased variance.</summary>
    public static double[][] LayerNorm(double[][] x, double[] w, double[] b, double eps) =>
        x.Select(row =>
        {
            double mean = row.Average();
            double variance = row.Sum(v => (v - mean) * (v - mean)) / row.Length;
            return row.Select((v, i) => w[i] * (v - mean) / Math.Sqrt(variance + eps) + b[i]).ToArray();
        }).ToArray();

    /// <summary>Element-wise a + b.</summary>
    public static double[][] Add(double[][] a, double[][] b) => a.Select((row, t) => row.Select((v, i) => v + b[t][i]).ToArray()).ToArray();

    /// <summary>Applies f to every element.</summary>
    public static double[][] Map(double[][] x, Func<double, double> f) => x.Select(row => row.Select(f).ToArray()).ToArray();

    /// <summary>SiLU x·σ(x).</summary>
    public static double Silu(double x) => x / (1 + Math.Exp(-x));

    /// <summary>Exact GELU 0.5·x·(1+erf(x/√2)).</summary>
    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>GPT-2's gelu_new: 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³))).</summary>
    public static double GeluNew(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    /// <summary>erf by its Maclaurin series (|x| ≤ 3) or continued fraction (beyond), accurate to ~1e-14.</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (ax <= 3)
        {
            double sum = 0, term = ax;
            for (int n = 0; n < 200 && Math.Abs(term) > 1e-17; n++)
            {
                sum += term / (2 * n + 1);
                term *= -ax * ax / (n + 1);
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))).
        double fraction = 0;
        for (int k = 60; k >= 1; k--)
        {
            fraction = k / 2.0 / (ax + fraction);
        }
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / (ax + fraction);
        return Math.Sign(x) * (1 - erfc);
    }

    /// <summary>
    /// HF rotary embedding on [time][heads·d]: within each head, pair (i, i+d/2) is rotated by position·invFreq[i].
    /// </summary>
    public static double[][] Rope(double[][] x, int heads, int d, IReadOnlyList<long> positions, double[] invFreq) =>
        x.Select((row, t) =>
        {
            var y = new double[row.Length];
            for (int h = 0; h < heads; h++)
            {
                for (int i = 0; i < d / 2; i++)
                {
                    double angle = positions[t] * invFreq[i];
                    double a = row[h * d + i], b = row[h * d + i + d / 2];
                    y[h * d + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                    y[h * d + i + d / 2] = b * Math.Cos(angle) + a * Math.Sin(angle);
                }
            }
            return y;
        }).ToArray();

    /// <summary>θ^(−2i/d) for i &lt; d/2.</summary>
    public static double[] InverseFrequencies(double theta, int d) => Enumerable.Range(0, d / 2).Select(i => Math.Pow(theta, -2.0 * i / d)).ToArray();

    /// <summary>
    /// Multi-head attention on [time][heads·d] queries and [time][kvHeads·d] keys/values: query head h reads
    /// key/value head h / (heads/kvHeads) (HF repeat_kv). Keys with <paramref name="keyValid"/> false are
    /// skipped; <paramref name="causal"/> skips later keys; <paramref name="window"/> skips keys ≥ window back.
    /// </summary>
    public static double[][] Attention(double[][] q, double[][] k, double[][] v, int heads, int kvHeads, int d,
        bool causal, bool[]? keyValid = null, int? window = null, double? scale = null)
    {
        int time = q.Length, group = heads / kvHeads;
        double s = scale ?? 1 / Math.Sqrt(d);
        var output = new double[time][];
        for (int t = 0; t < time; t++)
        {
            output[t] = new double[heads * d];
            for (int h = 0; h < heads; h++)
            {
                int kvh = h / group;
                var allowed = Enumerable.Range(0, k.Length)
                    .Where(j => (keyValid?[j] ?? true) && (!causal || j <= t) && (window is null || j > t - window)).ToArray();
                var scores = allowed.Select(j => Enumerable.Range(0, d).Sum(i => q[t][h * d + i] * k[j][kvh * d + i]) * s).ToArray();
                double max = scores.Max();
                var weights = scores.Select(x => Math.Exp(x - max)).ToArray();
                double total = weights.Sum();
                for (int n = 0; n < allowed.Length; n++)
                {
                    for (int i = 0; i < d; i++)
                    {
                        output[t][h * d + i] += weights[n] / total * v[allowed[n]][kvh * d + i];
                    }
                }
            }
        }
        return output;
    }

    /// <summary>Largest |a − b| between a [time, width] tensor (batch row <paramref name="row"/>) and a reference.</summary>
    public static double MaxAbsDiff(Tensor actual, double[][] expected, int row = 0)
    {
        var a = actual.detach().to(ScalarType.Float64)[row].contiguous().data<double>().ToArray();
        int width = expected[0].Length;
        double worst = 0;
        for (int t = 0; t < expected.Length; t++)
        {
            for (int i = 0; i < width; i++)
            {
                worst = Math.Max(worst, Math.Abs(a[t * width + i] - expected[t][i]));
            }
        }
        return worst;
    }

    /// <summary>Largest |a − b| over two tensors of one shape.</summary>
    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        Assert.Equal(a.shape, b.shape);
        using var scope = NewDisposeScope();
        return (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();
    }
}
