using System.Security.Cryptography;
using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters.Storage;

/// <summary>
/// Quantises a model's frozen linear layers, as QLoRA does: every <see cref="AdaptableLinear"/> whose base is frozen,
/// except the language-model head and classification heads. Embeddings, norms and heads stay dense (in the compute
/// dtype, which <see cref="Training.MixedPrecision"/> sets). The result is deterministic: the same dense weights give
/// the same packed bytes, which <see cref="Fingerprint"/> summarises.
/// </summary>
public static class BaseQuantizer
{
    /// <summary>
    /// The linear layers of <paramref name="model"/> a quantised run stores packed, by module path (the order is the
    /// model's, so fingerprints are stable).
    /// </summary>
    public static IReadOnlyList<(string Path, AdaptableLinear Layer)> QuantizableLayers(PretrainedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var heads = model.ClassificationHeadModules;
        return [.. model.AdaptableLayers()
            .Where(l => l.Name != model.OutputHeadModule && !heads.Any(h => l.Name == h || l.Name.StartsWith(h + ".", StringComparison.Ordinal)))
            .Where(l => !l.Layer.BaseTrainable || l.Layer.Storage is QuantizedWeight)];
    }

    /// <summary>
    /// Quantises every quantisable layer as <paramref name="quantization"/>, computing in <paramref name="computeDtype"/>,
    /// and returns the fingerprint of the packed storage (null for <see cref="FrozenWeightQuantization.None"/>).
    /// A base already quantised the same way is left as it is (a base shared by several adapters is quantised once);
    /// one quantised differently throws <see cref="QuantizedBaseException"/>.
    /// </summary>
    public static string? Quantize(PretrainedModel model, FrozenWeightQuantization quantization, ScalarType computeDtype)
    {
        if (quantization == FrozenWeightQuantization.None)
        {
            return null;
        }
        // Memory is the point of quantising: the dense weights and each layer's quantisation temporaries must go back
        // to the OS when freed, not stay in glibc's heap (docs/qlora.md).
        Runtime.NativeAllocator.PreferReturningFreedMemory();
        foreach (var (_, layer) in QuantizableLayers(model))
        {
            var current = layer.Storage.Quantization;
            if (current == FrozenWeightQuantization.None)
            {
                layer.Quantize(quantization, computeDtype);
            }
            else if (current != quantization)
            {
                throw new QuantizedBaseException($"{layer.ModulePath}: the base is already quantised as {current}; it cannot also be {quantization}. Load a separate base.");
            }
        }
        return Fingerprint(model);
    }

    /// <summary>SHA-256 (hex) over every quantised layer's path and stored bytes, or null when none is quantised.</summary>
    public static string? Fingerprint(PretrainedModel model)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        bool any = false;
        foreach (var (path, layer) in QuantizableLayers(model))
        {
            if (layer.Storage is QuantizedWeight quantized)
            {
                sha.AppendData(System.Text.Encoding.UTF8.GetBytes(path));
                quantized.AppendTo(sha);
                any = true;
            }
        }
        return any ? Convert.ToHexString(sha.GetHashAndReset()) : null;
    }

    /// <summary>Bytes of the quantisable linear layers' frozen storage (weights, however stored, and biases).</summary>
    public static long LinearWeightBytes(PretrainedModel model) =>
        QuantizableLayers(model).Sum(l => l.Layer.Storage.StorageBytes + (l.Layer.bias is { } b ? b.numel() * b.ElementSize : 0));

    /// <summary>Bytes of every quantised storage in <paramref name="model"/> (they are not Parameters).</summary>
    public static long QuantizedBytes(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.modules().OfType<AdaptableLinear>().Select(l => l.Storage).OfType<QuantizedWeight>().Sum(q => q.StorageBytes);
    }
}
