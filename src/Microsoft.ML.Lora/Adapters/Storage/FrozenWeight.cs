using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters.Storage;

/// <summary>
/// How a linear layer's frozen base weight is stored: dense (<see cref="DenseWeight"/>) or quantised
/// (<see cref="Nf4Weight"/>, <see cref="Int8Weight"/>). The LoRA layer only asks for the product x·Wᵀ and, where it
/// needs the weight itself (DoRA's norm, merging, export), for the dense [out, in] copy.
/// </summary>
public abstract class FrozenWeight
{
    /// <summary>Output width (rows of the [out, in] weight).</summary>
    public abstract long OutFeatures { get; }

    /// <summary>Input width (columns of the [out, in] weight).</summary>
    public abstract long InFeatures { get; }

    /// <summary>The dtype the weight is used in (the dense dtype, or what a quantised weight dequantises to).</summary>
    public abstract ScalarType ComputeDtype { get; }

    /// <summary>Every byte this storage keeps resident: values, or codes plus all their constants and code maps.</summary>
    public abstract long StorageBytes { get; }

    /// <summary>The quantisation of this storage (<see cref="FrozenWeightQuantization.None"/> when dense).</summary>
    public abstract FrozenWeightQuantization Quantization { get; }

    /// <summary>x·Wᵀ (no bias), differentiable in x.</summary>
    public abstract Tensor Product(Tensor x);

    /// <summary>A dense [out, in] copy of the weight in <paramref name="dtype"/>, detached from autograd.</summary>
    public abstract Tensor Dequantize(ScalarType dtype);
}

/// <summary>What a frozen base's linear weights are stored as.</summary>
public enum FrozenWeightQuantization
{
    /// <summary>Dense fp32/bf16 (the model's dtype).</summary>
    None,

    /// <summary>4-bit NormalFloat, block-wise absmax (block 64) with double-quantised constants (QLoRA).</summary>
    Nf4,

    /// <summary>8-bit integers with one absmax scale per output row.</summary>
    Int8,
}
