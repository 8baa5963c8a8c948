using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters.Storage;

/// <summary>
/// 8-bit storage with one absmax scale per output row: code = round(127·w/absmax_row), so each weight is off by at
/// most absmax_row/254 after dequantisation. Stored: the int8 codes [out, in] and the fp32 scales [out].
/// </summary>
public sealed class Int8Weight : QuantizedWeight
{
    private Tensor _codes;    // int8 [out, in]
    private Tensor _scales;   // fp32 [out]: absmax_row / 127

    private Int8Weight(long outFeatures, long inFeatures, ScalarType computeDtype, Tensor codes, Tensor scales)
        : base(outFeatures, inFeatures, computeDtype)
    {
        _codes = codes;
        _scales = scales;
    }

    /// <inheritdoc />
    public override FrozenWeightQuantization Quantization => FrozenWeightQuantization.Int8;

    /// <inheritdoc />
    public override IReadOnlyList<Tensor> StoredTensors => [_codes, _scales];

    /// <summary>The per-row scales (absmax / 127).</summary>
    public Tensor Scales => _scales;

    /// <summary>Quantises an [out, in] weight; <paramref name="computeDtype"/> is what it dequantises to.</summary>
    public static Int8Weight Quantize(Tensor weightOutIn, ScalarType computeDtype)
    {
        ArgumentNullException.ThrowIfNull(weightOutIn);
        Nf4Weight.BlockCount(weightOutIn, 1);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var w = weightOutIn.detach().to(ScalarType.Float32);
        var scales = w.abs().amax([1]).div(127);
        var codes = w.div(Nf4Weight.NonZero(scales).unsqueeze(1)).round().clamp(-127, 127).to(ScalarType.Int8);
        return new Int8Weight(weightOutIn.shape[0], weightOutIn.shape[1], computeDtype, codes.DetachFromDisposeScope(), scales.DetachFromDisposeScope());
    }

    private protected override Tensor DequantizeFloat32() => _codes.to(ScalarType.Float32).mul_(_scales.unsqueeze(1));

    private protected override void MoveTo(Device device)
    {
        if (Nf4Weight.IsOn(_codes, device))
        {
            return;
        }
        _codes = Nf4Weight.Moved(_codes, device);
        _scales = Nf4Weight.Moved(_scales, device);
    }
}
