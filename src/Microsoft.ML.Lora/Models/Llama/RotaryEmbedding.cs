using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Llama;

/// <summary>
/// Rotary position embedding in Hugging Face's layout: each head's vector is split in halves
/// (x[i], x[i+d/2]) rotated by angle position·inv_freq[i], inv_freq[i] = θ^(−2i/d), with the
/// "linear", "dynamic" and "llama3" rope_scaling variants applied to inv_freq.
/// The frequencies are computed with the same float32 tensor operations HF uses, so the angles
/// match HF's bit for bit rather than to within float32 rounding (which matters at long positions).
/// </summary>
public sealed class RotaryEmbedding
{
    /// <summary>The rope_scaling kinds this implementation supports.</summary>
    public static readonly IReadOnlyList<string> SupportedScalingKinds = ["default", "linear", "dynamic", "llama3"];

    private readonly LlamaConfig _config;
    private readonly float[] _invFreq;

    /// <summary>Precomputes inverse frequencies for a config.</summary>
    public RotaryEmbedding(LlamaConfig config)
    {
        _config = config;
        _invFreq = InverseFrequencies(config, config.MaxPositionEmbeddings);
    }

    /// <summary>
    /// The float32 inverse frequencies (length head_dim/2) for a sequence of <paramref name="sequenceLength"/>
    /// positions (only dynamic scaling depends on it: it grows θ once the sequence exceeds max_position_embeddings).
    /// </summary>
    public static float[] InverseFrequencies(LlamaConfig config, long sequenceLength)
    {
        int dim = config.HeadDimension;
        double theta = config.RopeTheta;
        var scaling = config.RopeScaling;
        if (scaling?.Kind == "dynamic" && sequenceLength > config.MaxPositionEmbeddings)
        {
            // NTK-aware: grow the base with the sequence length (HF _compute_dynamic_ntk_parameters).
            double factor = scaling.Factor;
            theta *= Math.Pow(factor * sequenceLength / config.MaxPositionEmbeddings - (factor - 1), dim / (dim - 2.0));
        }
        using var scope = NewDisposeScope();
        // HF: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all in float32.
        var exponents = arange(0, dim, 2, ScalarType.Int64).to(ScalarType.Float32) / dim;
        var inv = full([dim / 2], theta, ScalarType.Float32).pow(exponents).reciprocal();
        if (scaling?.Kind == "linear")
        {
            inv = inv / scaling.Factor;
        }
        else if (scaling?.Kind == "llama3")
        {
            inv = ApplyLlama3(inv, scaling, config.MaxPositionEmbeddings);
        }
        return inv.data<float>().ToArray();
    }

    // HF _compute_llama3_parameters: long wavelengths are divided by factor, short ones kept,
    // and the band between is interpolated smoothly.
    private static Tensor ApplyLlama3(Tensor inv, RopeScaling s, int maxPositions)
    {
        double original = s.OriginalMaxPositionEmbeddings ?? maxPositions;
        double lowWavelen = original / s.LowFreqFactor, highWavelen = original / s.HighFreqFactor;
        var wavelen = inv.reciprocal() * (2 * Math.PI);
        var scaled = where(wavelen > lowWavelen, inv / s.Factor, inv);
        var smooth = (wavelen.reciprocal() * original - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
        var smoothed = (1 - smooth) * scaled / s.Factor + smooth * scaled;
        var medium = (wavelen < highWavelen).logical_not().logical_and((wavelen > lowWavelen).logical_not());
        return where(medium, smoothed, scaled);
    }

    /// <summary>cos and sin [batch, 1, time, head_dim] for integer positions [batch, time].</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positions, ScalarType dtype)
    {
        var invFreq = _config.RopeScaling?.Kind == "dynamic"
            ? InverseFrequencies(_config, positions.max().item<long>() + 1)
            : _invFreq;
        using var scope = NewDisposeScope();
        var inv = tensor(invFreq, device: positions.device);
        var angles = positions.to(ScalarType.Float32).unsqueeze(-1) * inv;   // [B, T, d/2]
        var emb = cat([angles, angles], -1).unsqueeze(1);                   // [B, 1, T, d]
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>Applies the rotation to x [batch, heads, time, head_dim]: x·cos + rotate_half(x)·sin.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        long half = x.shape[^1] / 2;
        var first = x[.., .., .., ..(int)half];
        var second = x[.., .., .., (int)half..];
        var rotated = cat([-second, first], -1);
        return x * cos + rotated * sin;
    }
}
