using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters.Storage;

/// <summary>
/// QLoRA's 4-bit NormalFloat storage (Dettmers et al., 2023). The [out, in] weight is flattened and cut into blocks
/// of <see cref="BlockSize"/>; each block is divided by its absmax and every value replaced by the nearest of the 16
/// <see cref="Levels"/>. Two codes share a byte, element 2i in the high nibble (bitsandbytes' layout). The per-block
/// absmax constants are double-quantised: their mean is subtracted and the rest stored as 8-bit symmetric integers
/// with one fp32 absmax per <see cref="ConstantBlockSize"/> constants, so the constants cost ≈ 8/64 + 32/(64·256)
/// ≈ 0.127 bits per weight instead of 32/64 = 0.5.
/// A weight whose size is not a multiple of the block gets a partial last block, padded with zeros before packing:
/// the padding codes are stored (at most 31 bytes a layer) and dropped again when dequantising.
/// </summary>
public sealed class Nf4Weight : QuantizedWeight
{
    /// <summary>Weights per absmax block.</summary>
    public const int BlockSize = 64;

    /// <summary>Absmax constants per block of the double quantisation.</summary>
    public const int ConstantBlockSize = 256;

    /// <summary>The 16 NormalFloat values (bitsandbytes' NF4 code), in code order.</summary>
    public static readonly float[] Levels =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
        -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f,
        0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    private Tensor _packed;          // uint8 [blocks·32]
    private Tensor _absmaxCodes;     // int8 [blocks]
    private Tensor _absmaxScales;    // fp32 [ceil(blocks/256)]
    private Tensor _absmaxMean;      // fp32 [1]
    private Tensor _codeMap;         // fp32 [16]

    private Nf4Weight(long outFeatures, long inFeatures, ScalarType computeDtype, Tensor packed, Tensor absmaxCodes, Tensor absmaxScales, Tensor absmaxMean, Tensor codeMap)
        : base(outFeatures, inFeatures, computeDtype)
    {
        _packed = packed;
        _absmaxCodes = absmaxCodes;
        _absmaxScales = absmaxScales;
        _absmaxMean = absmaxMean;
        _codeMap = codeMap;
    }

    /// <summary>Number of absmax blocks (the last one may be partial).</summary>
    public long Blocks => _absmaxCodes.shape[0];

    /// <summary>The packed codes: byte i holds code 2i in its high nibble and code 2i+1 in its low nibble.</summary>
    public Tensor Packed => _packed;

    /// <inheritdoc />
    public override FrozenWeightQuantization Quantization => FrozenWeightQuantization.Nf4;

    /// <inheritdoc />
    public override IReadOnlyList<Tensor> StoredTensors => [_packed, _absmaxCodes, _absmaxScales, _absmaxMean, _codeMap];

    /// <summary>Quantises an [out, in] weight; <paramref name="computeDtype"/> is what it dequantises to.</summary>
    public static Nf4Weight Quantize(Tensor weightOutIn, ScalarType computeDtype)
    {
        ArgumentNullException.ThrowIfNull(weightOutIn);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (blocks, n) = BlockCount(weightOutIn, BlockSize);
        var padded = PadTo(weightOutIn.detach().to(ScalarType.Float32).flatten(), blocks * BlockSize).view(blocks, BlockSize);
        var absmax = padded.abs().amax([1]);
        var codes = Codes(padded.div(NonZero(absmax).unsqueeze(1)));
        var (absmaxCodes, scales, mean) = QuantizeConstants(absmax);
        var codeMap = tensor(Levels, device: weightOutIn.device);
        var result = new Nf4Weight(weightOutIn.shape[0], weightOutIn.shape[1], computeDtype, Pack(codes), absmaxCodes, scales, mean, codeMap);
        foreach (var t in result.StoredTensors)
        {
            t.DetachFromDisposeScope();   // owned by the layer for its lifetime, not by the caller's scope
        }
        return result;
    }

    /// <summary>The 4-bit codes [blocks·64] (int64, 0..15), unpacked from <see cref="Packed"/>.</summary>
    public Tensor Codes() => Unpack(_packed);

    /// <summary>The per-block absmax constants after double quantisation (what dequantisation multiplies by).</summary>
    public Tensor Absmax()
    {
        using var scope = NewDisposeScope();
        long blocks = _absmaxCodes.shape[0];
        var padded = PadTo(_absmaxCodes.to(ScalarType.Float32), _absmaxScales.shape[0] * ConstantBlockSize).view(-1, ConstantBlockSize);
        var centered = padded.div(127).mul(_absmaxScales.unsqueeze(1)).flatten().narrow(0, 0, blocks);
        return centered.add(_absmaxMean).MoveToOuterDisposeScope();
    }

    /// <summary>Packs int codes (an even count, 0..15) two per byte, element 2i in the high nibble.</summary>
    public static Tensor Pack(Tensor codes)
    {
        using var pairs = codes.to(ScalarType.Int64).view(-1, 2);
        using var high = pairs.select(1, 0).mul(16);
        using var both = high.add(pairs.select(1, 1));
        return both.to(ScalarType.Byte);
    }

    /// <summary>Unpacks bytes into their codes (int64), the high nibble first.</summary>
    public static Tensor Unpack(Tensor packed)
    {
        using var wide = packed.to(ScalarType.Int64);
        using var high = wide.div(16, RoundingMode.floor);
        using var low = wide.remainder(16);
        using var pairs = stack([high, low], 1);
        return pairs.flatten().to(ScalarType.Int64);
    }

    private protected override Tensor DequantizeFloat32()
    {
        using var scope = NewDisposeScope();
        // One gather per byte: the byte's two levels at once, from a table of all 256 code pairs.
        var pairs = PairTable(_codeMap).index_select(0, _packed.to(ScalarType.Int32));
        var dense = pairs.view(-1, BlockSize).mul_(Absmax().unsqueeze(1)).flatten().narrow(0, 0, OutFeatures * InFeatures);
        return dense.MoveToOuterDisposeScope();
    }

    // [256, 2]: the levels of byte b's high and low nibble. Derived from the code map at each use (a few µs), so only
    // the map itself is stored.
    private static Tensor PairTable(Tensor codeMap)
    {
        using var bytes = arange(256, ScalarType.Int64, codeMap.device);
        using var codes = stack([bytes.div(16, RoundingMode.floor), bytes.remainder(16)], 1);
        return codeMap.index_select(0, codes.flatten()).view(256, 2);
    }

    private protected override void MoveTo(Device device)
    {
        if (IsOn(_packed, device))
        {
            return;
        }
        _packed = Moved(_packed, device);
        _absmaxCodes = Moved(_absmaxCodes, device);
        _absmaxScales = Moved(_absmaxScales, device);
        _absmaxMean = Moved(_absmaxMean, device);
        _codeMap = Moved(_codeMap, device);
    }

    // Nearest level: the index of the first midpoint between consecutive levels that is ≥ the value.
    private static Tensor Codes(Tensor normalized)
    {
        var midpoints = Levels.Zip(Levels.Skip(1), (a, b) => (a + b) / 2).ToArray();
        using var boundaries = tensor(midpoints, device: normalized.device);
        return bucketize(normalized.flatten(), boundaries);
    }

    // Double quantisation: mean-centred absmax in 8-bit symmetric blocks of 256 with an fp32 scale each.
    private static (Tensor Codes, Tensor Scales, Tensor Mean) QuantizeConstants(Tensor absmax)
    {
        long blocks = absmax.shape[0];
        var mean = absmax.mean().reshape(1);
        long groups = (blocks + ConstantBlockSize - 1) / ConstantBlockSize;
        var centered = PadTo(absmax.sub(mean), groups * ConstantBlockSize).view(groups, ConstantBlockSize);
        var scales = centered.abs().amax([1]);
        var codes = centered.div(NonZero(scales).unsqueeze(1)).mul(127).round().clamp(-127, 127)
            .flatten().narrow(0, 0, blocks).to(ScalarType.Int8);
        return (codes, scales, mean);
    }

    internal static (long Blocks, long Elements) BlockCount(Tensor weightOutIn, int blockSize)
    {
        if (weightOutIn.dim() != 2)
        {
            throw new ArgumentException($"A quantised linear weight must be 2-D [out, in]; got shape [{string.Join(", ", weightOutIn.shape)}].", nameof(weightOutIn));
        }
        long n = weightOutIn.numel();
        return ((n + blockSize - 1) / blockSize, n);
    }

    internal static Tensor NonZero(Tensor scales) => where(scales.gt(0), scales, ones_like(scales));

    internal static bool IsOn(Tensor t, Device device) => t.device_type == device.type && t.device_index == device.index;

    internal static Tensor Moved(Tensor t, Device device)
    {
        var moved = t.to(device).DetachFromDisposeScope();
        if (!ReferenceEquals(moved, t))
        {
            t.Dispose();
        }
        return moved;
    }

    private static Tensor PadTo(Tensor flat, long length) =>
        flat.shape[0] == length ? flat : nn.functional.pad(flat, [0, length - flat.shape[0]]);
}
