using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Llama;

/// <summary>
/// Rotary position embedding in Hugging Face's layout: each head's vector is split in halves
/// (x[i], x[i+d/2]) rotated by angle position·inv_freq[i], inv_freq[i] = θ^(−2i/d), with the
/// "linear", "dynamic" and "llama3" rope_scaling variants applied to inv_freq.
/// </summary>
public sealed class RotaryEmbedding
{
    private readonly LlamaConfig _config;
    private readonly double[] _invFreq;

    /// <summary>Precomputes inverse frequencies for a config.</summary>
    public RotaryEmbedding(LlamaConfig config)
    {
        _config = config;
        _invFreq = InverseFrequencies(config, config.MaxPositionEmbeddings);
    }

    /// <summary>The inverse frequencies (length head_dim/2), for a given longest sequence (dynamic scaling uses it).</summary>
    public static double[] InverseFrequencies(LlamaConfig config, int sequenceLength)
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
        var inv = new double[dim / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            inv[i] = 1.0 / Math.Pow(theta, 2.0 * i / dim);
        }
        if (scaling?.Kind == "linear")
        {
            for (int i = 0; i < inv.Length; i++)
            {
                inv[i] /= scaling.Factor;
            }
        }
        else if (scaling?.Kind == "llama3")
        {
            ApplyLlama3(inv, scaling, config.MaxPositionEmbeddings);
        }
        return inv;
    }

    // HF _compute_llama3_parameters: long wavelengths are divided by factor, short ones kept,
    // and the band between is interpolated smoothly.
    private static void ApplyLlama3(double[] inv, RopeScaling s, int maxPositions)
    {
        double original = s.OriginalMaxPositionEmbeddings ?? maxPositions;
        double lowWavelen = original / s.LowFreqFactor, highWavelen = original / s.HighFreqFactor;
        for (int i = 0; i < inv.Length; i++)
        {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen > lowWavelen)
            {
                inv[i] /= s.Factor;
            }
            else if (wavelen >= highWavelen)
            {
                double smooth = (original / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                inv[i] = (1 - smooth) * inv[i] / s.Factor + smooth * inv[i];
            }
        }
    }

    /// <summary>cos and sin [batch, 1, time, head_dim] for integer positions [batch, time].</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positions, ScalarType dtype)
    {
        var invFreq = _config.RopeScaling?.Kind == "dynamic"
            ? InverseFrequencies(_config, (int)positions.max().item<long>() + 1)
            : _invFreq;
        using var scope = NewDisposeScope();
        var inv = tensor(invFreq, device: positions.device).to(ScalarType.Float32);
        var angles = positions.to(ScalarType.Float32).unsqueeze(-1) * inv;   // [B, T, d/2]
        var emb = cat([angles, angles], -1).unsqueeze(1);                   // [B, 1, T, d]
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>Applies the rotation to x [batch, heads, time, head_dim].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        long half = x.shape[^1] / 2;
        var first = x[.., .., .., ..(int)half];
        var second = x[.., .., .., (int)half..];
        var rotated = cat([-second, first], -1);
        return x * cos + rotated * sin;
    }
}
