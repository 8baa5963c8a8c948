using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// The mapping between an adapter inside a <see cref="LoraModel"/> and PEFT's saved tensor names, which drop the
/// adapter name: <c>base_model.model.{path}.lora_A.weight</c> [r, in], <c>.lora_B.weight</c> [out, r],
/// <c>.lora_magnitude_vector</c> [out] (DoRA), <c>.lora_embedding_A</c> [r, vocab], <c>.lora_embedding_B</c>
/// [dim, r], modules_to_save as <c>base_model.model.{path}.weight</c>/<c>.bias</c>, and trained biases as
/// <c>{path}.base_layer.bias</c> (adapted layers) or <c>{path}.bias</c>.
/// </summary>
public static class PeftStateDict
{
    /// <summary>The prefix PEFT puts before every module path.</summary>
    public const string Prefix = "base_model.model.";

    /// <summary>
    /// The adapter's tensors under PEFT's names, as new fp32 CPU tensors the caller disposes.
    /// </summary>
    public static Dictionary<string, Tensor> Export(LoraModel model, string adapter)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.Adapters.TryGetValue(adapter, out var config))
        {
            throw new ArgumentException($"No adapter named '{adapter}'.", nameof(adapter));
        }
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, parameter) in Entries(model, adapter, config))
        {
            result[key] = parameter.detach().to(ScalarType.Float32, CPU, copy: true).contiguous();
        }
        return result;
    }

    /// <summary>
    /// Every parameter the adapter saves with its PEFT name (the live parameters, not copies).
    /// </summary>
    public static IEnumerable<(string Key, Tensor Parameter)> Entries(LoraModel model, string adapter, LoraConfig config)
    {
        var savedPaths = new HashSet<string>(StringComparer.Ordinal);
        var adaptedPaths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, layer) in model.LoraLayers())
        {
            var p = Prefix + path;
            if (layer.HasAdapter(adapter))
            {
                adaptedPaths.Add(path);
                if (layer is AdaptableLinear linear)
                {
                    yield return ($"{p}.lora_A.weight", linear.LoraA(adapter));
                    yield return ($"{p}.lora_B.weight", linear.LoraB(adapter));
                    if (linear.Magnitude(adapter) is { } magnitude)
                    {
                        yield return ($"{p}.lora_magnitude_vector", magnitude);
                    }
                }
                else if (layer is AdaptableEmbedding embedding)
                {
                    yield return ($"{p}.lora_embedding_A", embedding.LoraEmbeddingA(adapter));
                    yield return ($"{p}.lora_embedding_B", embedding.LoraEmbeddingB(adapter));
                }
            }
            if (layer.SavedCopies.Contains(adapter))
            {
                savedPaths.Add(path);
                foreach (var (role, parameter) in layer.AdapterParameters(adapter))
                {
                    if (role == LoraParameterRole.SavedWeight)
                    {
                        yield return ($"{p}.weight", parameter);
                    }
                    else if (role == LoraParameterRole.SavedBias)
                    {
                        yield return ($"{p}.bias", parameter);
                    }
                }
            }
        }
        foreach (var (key, bias) in TrainedBiases(model, config, adaptedPaths, savedPaths))
        {
            yield return (key, bias);
        }
    }

    /// <summary>
    /// Where a PEFT tensor name points: the module path and what it is, or null for a name that is not an
    /// adapter tensor.
    /// </summary>
    public static (string Path, PeftTensorKind Kind)? Parse(string key)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }
        var rest = key[Prefix.Length..];
        foreach (var (suffix, kind) in Suffixes)
        {
            if (rest.EndsWith(suffix, StringComparison.Ordinal) && rest.Length > suffix.Length)
            {
                return (rest[..^suffix.Length], kind);
            }
        }
        return null;
    }

    private static readonly (string Suffix, PeftTensorKind Kind)[] Suffixes =
    [
        (".lora_A.weight", PeftTensorKind.LoraA),
        (".lora_B.weight", PeftTensorKind.LoraB),
        (".lora_magnitude_vector", PeftTensorKind.Magnitude),
        (".lora_magnitude_vector.weight", PeftTensorKind.Magnitude),
        (".lora_embedding_A", PeftTensorKind.EmbeddingA),
        (".lora_embedding_B", PeftTensorKind.EmbeddingB),
        (".base_layer.bias", PeftTensorKind.LayerBias),
        (".weight", PeftTensorKind.ModuleWeight),
        (".bias", PeftTensorKind.ModuleBias),
    ];

    private static IEnumerable<(string Key, Tensor Bias)> TrainedBiases(LoraModel model, LoraConfig config, HashSet<string> adapted, HashSet<string> saved)
    {
        if (config.Bias == LoraBias.None)
        {
            yield break;
        }
        foreach (var (name, bias) in model.BaseBiases())
        {
            var path = name.Length > 5 ? name[..^5] : "";
            if (adapted.Contains(path))
            {
                yield return ($"{Prefix}{path}.base_layer.bias", bias);
            }
            else if (config.Bias == LoraBias.All && !saved.Contains(path))
            {
                yield return (Prefix + name, bias);
            }
        }
    }
}

/// <summary>What a tensor in a PEFT adapter file is.</summary>
public enum PeftTensorKind
{
    /// <summary>lora_A.weight of a linear layer.</summary>
    LoraA,
    /// <summary>lora_B.weight of a linear layer.</summary>
    LoraB,
    /// <summary>DoRA's lora_magnitude_vector.</summary>
    Magnitude,
    /// <summary>lora_embedding_A.</summary>
    EmbeddingA,
    /// <summary>lora_embedding_B.</summary>
    EmbeddingB,
    /// <summary>The bias of an adapted layer (base_layer.bias).</summary>
    LayerBias,
    /// <summary>A module's weight: a modules_to_save copy.</summary>
    ModuleWeight,
    /// <summary>A module's bias: a modules_to_save copy or a bias trained with bias="all".</summary>
    ModuleBias,
}
