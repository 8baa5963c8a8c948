using System.Security.Cryptography;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters.Storage;

/// <summary>
/// A frozen [out, in] weight kept only as packed codes and their constants. The product dequantises it on the fly,
/// in forward and again in backward (<see cref="DequantizedLinearFunction"/>), so no dense copy stays resident or
/// is saved for backward. The stored tensors follow the input to its device on first use.
/// </summary>
public abstract class QuantizedWeight : FrozenWeight, IDisposable
{
    private readonly long _out;
    private readonly long _in;
    private ScalarType _compute;
    private bool _disposed;

    private protected QuantizedWeight(long outFeatures, long inFeatures, ScalarType computeDtype)
    {
        _out = outFeatures;
        _in = inFeatures;
        _compute = computeDtype;
    }

    /// <inheritdoc />
    public override long OutFeatures => _out;

    /// <inheritdoc />
    public override long InFeatures => _in;

    /// <inheritdoc />
    public override ScalarType ComputeDtype => _compute;

    /// <summary>Quantises an [out, in] weight as <paramref name="quantization"/> (Nf4 or Int8).</summary>
    public static QuantizedWeight Create(FrozenWeightQuantization quantization, Tensor weightOutIn, ScalarType computeDtype) => quantization switch
    {
        FrozenWeightQuantization.Nf4 => Nf4Weight.Quantize(weightOutIn, computeDtype),
        FrozenWeightQuantization.Int8 => Int8Weight.Quantize(weightOutIn, computeDtype),
        _ => throw new ArgumentOutOfRangeException(nameof(quantization), quantization, "Only Nf4 and Int8 are quantised storages."),
    };

    /// <summary>Makes the weight dequantise to <paramref name="dtype"/> from now on (the codes do not change).</summary>
    internal void ComputeIn(ScalarType dtype) => _compute = dtype;

    /// <summary>Every tensor this storage holds (codes, constants, code maps), in a fixed order.</summary>
    public abstract IReadOnlyList<Tensor> StoredTensors { get; }

    /// <inheritdoc />
    public override long StorageBytes => StoredTensors.Sum(t => t.numel() * t.ElementSize);

    /// <summary>SHA-256 (hex) of every stored byte, in <see cref="StoredTensors"/> order: equal iff the packed storage is.</summary>
    public string Fingerprint()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        AppendTo(sha);
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    /// <summary>Adds every stored byte to <paramref name="hash"/>.</summary>
    public void AppendTo(IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        foreach (var t in StoredTensors)
        {
            using var cpu = t.cpu().contiguous();
            hash.AppendData(cpu.bytes);
        }
    }

    /// <inheritdoc />
    public override Tensor Product(Tensor x)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        MoveTo(x.device);
        if (!is_grad_enabled() || !x.requires_grad)
        {
            using var w = Dequantize(x.dtype);
            return nn.functional.linear(x, w);
        }
        return DequantizedLinearFunction.apply(x, this);
    }

    /// <inheritdoc />
    public override Tensor Dequantize(ScalarType dtype)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var outIn = DequantizeFloat32().view(_out, _in);
        return (outIn.dtype == dtype ? outIn : outIn.to(dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>The dense weight in fp32, any shape with out·in elements.</summary>
    private protected abstract Tensor DequantizeFloat32();

    /// <summary>Moves the stored tensors to <paramref name="device"/> (no-op when already there).</summary>
    private protected abstract void MoveTo(Device device);

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            foreach (var t in StoredTensors)
            {
                t.Dispose();
            }
            _disposed = true;
        }
        GC.SuppressFinalize(this);
    }
}
