using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters.Storage;

/// <summary>
/// Today's storage: the layer's own <c>weight</c> Parameter (fp32 or bf16) under its HF key, so loading, saving and
/// PEFT key mapping see the same tensor. <paramref name="fanInFanOut"/> is GPT-2's Conv1D [in, out] layout.
/// </summary>
public sealed class DenseWeight(Parameter weight, bool fanInFanOut) : FrozenWeight
{
    /// <summary>The stored Parameter.</summary>
    public Parameter Weight { get; } = weight;

    /// <inheritdoc />
    public override long OutFeatures => Weight.shape[fanInFanOut ? 1 : 0];

    /// <inheritdoc />
    public override long InFeatures => Weight.shape[fanInFanOut ? 0 : 1];

    /// <inheritdoc />
    public override ScalarType ComputeDtype => Weight.dtype;

    /// <inheritdoc />
    public override long StorageBytes => Weight.numel() * Weight.ElementSize;

    /// <inheritdoc />
    public override FrozenWeightQuantization Quantization => FrozenWeightQuantization.None;

    /// <inheritdoc />
    public override Tensor Product(Tensor x) => fanInFanOut ? x.matmul(Weight) : nn.functional.linear(x, Weight);

    /// <inheritdoc />
    public override Tensor Dequantize(ScalarType dtype)
    {
        using var _ = no_grad();
        var outIn = fanInFanOut ? Weight.t() : Weight.alias();
        return outIn.to(dtype).contiguous();
    }
}
