using TorchSharp;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Llama;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>Each Llama component on a tensor small enough to compute by hand.</summary>
public class LlamaComponentTests
{
    [Fact]
    public void RotaryEmbeddingRotatesHalvesByPositionTimesFrequency()
    {
        // head_dim 4, θ = 10000: inv_freq = [1, 10000^(−1/2) = 0.01]; pairs are (x0, x2) and (x1, x3).
        var rotary = new RotaryEmbedding(new LlamaConfig { HiddenSize = 4, NumAttentionHeads = 1, MaxPositionEmbeddings = 8 });
        using var scope = NewDisposeScope();
        var (cos, sin) = rotary.CosSin(tensor(new long[] { 0, 1, 2 }, [1, 3]), ScalarType.Float32);
        var x = tensor(new float[] { 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4 }, [1, 1, 3, 4]);
        var y = RotaryEmbedding.Apply(x, cos, sin).data<float>().ToArray();
        for (int p = 0; p < 3; p++)
        {
            double fast = p * 1.0, slow = p * 0.01;
            double[] expected =
            [
                1 * Math.Cos(fast) - 3 * Math.Sin(fast),
                2 * Math.Cos(slow) - 4 * Math.Sin(slow),
                3 * Math.Cos(fast) + 1 * Math.Sin(fast),
                4 * Math.Cos(slow) + 2 * Math.Sin(slow),
            ];
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(expected[i], y[p * 4 + i], 1e-6);
            }
        }
    }

    [Fact]
    public void LinearScalingDividesEveryFrequency()
    {
        var config = new LlamaConfig { HiddenSize = 8, NumAttentionHeads = 1, RopeScaling = new RopeScaling { Type = "linear", Factor = 2 } };
        var inv = RotaryEmbedding.InverseFrequencies(config, 1);
        double[] expected = [1 / 2.0, 0.1 / 2, 0.01 / 2, 0.001 / 2];   // 10000^(−2i/8) = 10^(−i)
        AssertClose(expected, inv, 1e-7);
    }

    [Fact]
    public void DynamicScalingGrowsThetaOnlyBeyondMaxPositions()
    {
        var config = new LlamaConfig
        {
            HiddenSize = 8, NumAttentionHeads = 1, MaxPositionEmbeddings = 16,
            RopeScaling = new RopeScaling { RopeType = "dynamic", Factor = 2 },
        };
        AssertClose([1, 0.1, 0.01, 0.001], RotaryEmbedding.InverseFrequencies(config, 16), 1e-7);
        // length 32: θ' = 10000·(2·32/16 − 1)^(8/6) = 10000·3^(4/3).
        double theta = 10000 * Math.Pow(3, 4.0 / 3);
        var expected = Enumerable.Range(0, 4).Select(i => Math.Pow(theta, -2.0 * i / 8)).ToArray();
        AssertClose(expected, RotaryEmbedding.InverseFrequencies(config, 32), 1e-6);
        Assert.Null(new LlamaForCausalLM(TinyModels.Llama(scaling: config.RopeScaling)).MaxSequenceLength);
    }

    [Fact]
    public void Llama3ScalingKeepsShortWavelengthsDividesLongOnesAndBlendsTheBand()
    {
        // inv = [1, 0.1, 0.01, 0.001] → wavelengths 2π/inv = [6.28, 62.8, 628, 6283]; with original 16, low 1, high 4:
        // low_wavelen 16, high_wavelen 4. 6.28 lies in [4, 16] → blended; the rest exceed 16 → divided by 8.
        var config = new LlamaConfig
        {
            HiddenSize = 8, NumAttentionHeads = 1,
            RopeScaling = new RopeScaling { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 16 },
        };
        double smooth = (16 / (2 * Math.PI) - 1) / (4 - 1);
        double[] expected = [(1 - smooth) * 1 / 8 + smooth * 1, 0.1 / 8, 0.01 / 8, 0.001 / 8];
        AssertClose(expected, RotaryEmbedding.InverseFrequencies(config, 1), 1e-6);
    }

    [Theory]
    [InlineData("yarn")]
    [InlineData("longrope")]
    public void UnsupportedRopeScalingIsRejected(string kind)
    {
        var config = TinyModels.Llama(scaling: new RopeScaling { RopeType = kind, Factor = 2 });
        var error = Assert.Throws<InvalidModelConfigException>(() => config.Validate("config.json"));
        Assert.Contains(kind, error.Message);
    }

    [Fact]
    public void RmsNormDividesByRootMeanSquareAndScales()
    {
        using var norm = new RmsNorm(4, 1e-5);
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            norm.weight.copy_(tensor(new float[] { 1, 1, 2, 0.5f }));
        }
        var y = norm.forward(tensor(new float[] { 1, 2, 3, 4 }, [1, 4])).data<float>().ToArray();
        double rms = Math.Sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
        AssertClose([1 / rms, 2 / rms, 2 * 3 / rms, 0.5 * 4 / rms], y, 1e-6);
    }

    [Fact]
    public void RmsNormGradientsMatchTheMeanOfSquaresFormula()
    {
        // The norm is computed through ‖x‖²/width; its gradients must equal those of HF's x·rsqrt(mean(x²)+ε)·w,
        // here differentiated by autograd in float64, including a row of zeros.
        using var norm = new RmsNorm(6, 1e-5);
        using var scope = NewDisposeScope();
        manual_seed(5);
        using (no_grad())
        {
            norm.weight.copy_(rand(6).add(0.5));
        }
        var x = randn(3, 6);
        x[1] = zeros(6);
        var upstream = randn(3, 6);
        var ours = x.clone().requires_grad_();
        norm.forward(ours).backward([upstream]);
        var reference = x.to(ScalarType.Float64).requires_grad_();
        var weight = norm.weight.detach().to(ScalarType.Float64).requires_grad_();
        (reference * (reference.pow(2).mean([-1], keepdim: true) + 1e-5).rsqrt() * weight).backward([upstream.to(ScalarType.Float64)]);
        AssertClose(reference.grad!.data<double>().ToArray(), ours.grad!.data<float>().ToArray(), 1e-5);
        AssertClose(weight.grad!.data<double>().ToArray(), norm.weight.grad!.data<float>().ToArray(), 1e-5);
    }

    [Fact]
    public void RmsNormComputesInFloat32SoHalfPrecisionDoesNotOverflow()
    {
        // 300² = 90000 exceeds float16's maximum (65504): squaring in float16 would give inf and zero outputs.
        using var norm = new RmsNorm(4, 1e-6);
        norm.to(ScalarType.Float16);
        using var scope = NewDisposeScope();
        var y = norm.forward(tensor(new float[] { 300, 400, 500, 600 }, [1, 4]).to(ScalarType.Float16));
        Assert.Equal(ScalarType.Float16, y.dtype);
        double rms = Math.Sqrt((300.0 * 300 + 400 * 400 + 500 * 500 + 600 * 600) / 4);
        AssertClose([300 / rms, 400 / rms, 500 / rms, 600 / rms], y.to(ScalarType.Float32).data<float>().ToArray(), 2e-3);
    }

    [Fact]
    public void GroupedQueryHeadsReadTheirKeyValueGroupInOrder()
    {
        // One token attends only to itself, so each query head outputs its key/value head's value vector.
        // 4 query heads, 2 kv heads, head_dim 2: HF repeat_kv maps query heads 0,1 → kv 0 and 2,3 → kv 1.
        var config = new LlamaConfig { HiddenSize = 8, NumAttentionHeads = 4, NumKeyValueHeads = 2, IntermediateSize = 4, NumHiddenLayers = 1, VocabSize = 4 };
        using var attention = new LlamaAttention(config);
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            // v = W_v·x with x = [1, 0, ...]: column 0 of W_v holds kv head 0's value [1, 2] and kv head 1's [3, 4].
            attention.v_proj.weight.zero_();
            attention.v_proj.weight[.., 0] = tensor(new float[] { 1, 2, 3, 4 });
            attention.o_proj.weight.copy_(eye(8));
        }
        var x = zeros(1, 1, 8);
        x[0, 0, 0] = tensor(1f);
        var (cos, sin) = new RotaryEmbedding(config).CosSin(zeros(1, 1, ScalarType.Int64), ScalarType.Float32);
        var y = attention.Forward(x, cos, sin, null).data<float>().ToArray();
        Assert.Equal(new float[] { 1, 2, 1, 2, 3, 4, 3, 4 }, y);
    }

    private static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual, double relative)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relative * Math.Max(1, Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]}, got {actual[i]}");
        }
    }
}
