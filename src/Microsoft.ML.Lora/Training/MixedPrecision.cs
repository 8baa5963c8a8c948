using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Adapters.Storage;
using Microsoft.ML.Lora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Training;

/// <summary>
/// Mixed precision for LoRA training: the frozen base weights (linear layers, embeddings, norms) are stored in a
/// 16-bit dtype, halving their memory and using the CPU's bf16 matrix instructions, while everything that trains —
/// LoRA factors, saved head copies, the classification head — and the optimizer state stay in float32.
/// The adapter path computes in its own dtype (float32) and the loss is computed in float32.
/// </summary>
public static class MixedPrecision
{
    /// <summary>
    /// Converts every frozen base weight of <paramref name="model"/> to <paramref name="dtype"/> in place: each
    /// adaptable layer's base weight and bias, and each other leaf module whose parameters are all frozen (norms).
    /// Adapter factors, saved copies and the classification head keep their dtype. Call it after the adapters are
    /// attached (a fresh model has nothing frozen). Returns the bytes the frozen weights now occupy.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="dtype"/> is not a floating-point type.</exception>
    public static long CastFrozenWeights(PretrainedModel model, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (dtype is not (ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float32 or ScalarType.Float64))
        {
            throw new ArgumentException($"Mixed precision needs a floating-point dtype, not {dtype}.", nameof(dtype));
        }
        var heads = model.ClassificationHeadModules;
        foreach (var (name, child) in model.named_children())
        {
            if (!heads.Contains(name))
            {
                Cast(child, dtype);
            }
        }
        return FrozenWeightBytes(model);
    }

    /// <summary>
    /// Bytes of all frozen storage: parameters that do not require gradients plus every quantised base weight
    /// (packed codes and their constants, which are not Parameters).
    /// </summary>
    public static long FrozenWeightBytes(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.parameters().Where(p => !p.requires_grad).Sum(p => p.numel() * p.ElementSize) + BaseQuantizer.QuantizedBytes(model);
    }

    /// <summary>Number of parameters that require gradients.</summary>
    public static long TrainableParameters(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
    }

    private static void Cast(nn.Module module, ScalarType dtype)
    {
        if (module is LoraLayer layer)
        {
            if (!layer.BaseTrainable)
            {
                layer.CastBaseWeights(dtype);   // never descends into the adapters
            }
            return;
        }
        var children = module.named_children().ToList();
        if (children.Count == 0)
        {
            var own = module.parameters().ToList();
            if (own.Count > 0 && own.All(p => !p.requires_grad && p.is_floating_point() && p.dtype != dtype))
            {
                module.to(dtype);
            }
            return;
        }
        foreach (var (_, child) in children)
        {
            Cast(child, dtype);
        }
    }
}
