using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.MLNet.Persistence;

/// <summary>The tensors of one named adapter (LoRA factors, DoRA magnitudes, its head copy), by full name.</summary>
internal static class AdapterWeights
{
    /// <summary>The adapter's parameters with their names in the model.</summary>
    public static Dictionary<string, Tensor> Of(LoraBaseModel baseModel, string adapter)
    {
        var owned = baseModel.Lora.LoraLayers()
            .SelectMany(l => l.Layer.AdapterParameters(adapter).Select(p => p.Parameter))
            .ToHashSet(ReferenceEqualityComparer.Instance);
        return baseModel.Model.named_parameters()
            .Where(p => owned.Contains(p.parameter))
            .ToDictionary(p => p.name, p => (Tensor)p.parameter);
    }

    /// <summary>
    /// What a saved model stores besides its base: the adapter's tensors (Lora), the head's (HeadOnly: the rest of the
    /// base is unchanged and referenced) or nothing (Full: every weight is in the embedded base).
    /// </summary>
    public static Dictionary<string, Tensor> Trained(LoraBaseModel baseModel, LoraModelManifest manifest) => manifest.Mode switch
    {
        LoraFineTuneMode.Lora => Of(baseModel, manifest.AdapterName),
        LoraFineTuneMode.HeadOnly => baseModel.Model.named_parameters()
            .Where(p => FineTuneModes.IsHeadParameter(baseModel.Model.ClassificationHeadModules, p.name))
            .ToDictionary(p => p.name, p => (Tensor)p.parameter),
        _ => [],
    };

    /// <summary>The base model's own tensors (no adapter tensors), by name.</summary>
    public static Dictionary<string, Tensor> Base(LoraBaseModel baseModel)
    {
        var adapterTensors = baseModel.Lora.Adapters.Keys.SelectMany(a => Of(baseModel, a).Keys).ToHashSet(StringComparer.Ordinal);
        return baseModel.Model.state_dict().Where(kv => !adapterTensors.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
    }

    /// <summary>
    /// Copies every tensor of <paramref name="file"/> into the model's tensor of the same name, reading the
    /// adapter name segment <c>.{savedName}.</c> as <c>.{newName}.</c> when the adapter was renamed on load.
    /// </summary>
    public static void Load(PretrainedModel model, SafetensorsFile file, string? savedName = null, string? newName = null)
    {
        var targets = model.state_dict();
        string Target(string name)
        {
            if (savedName is null || newName is null || savedName == newName)
            {
                return name;
            }
            var renamed = name.Replace($".{savedName}.", $".{newName}.", StringComparison.Ordinal);
            return renamed.EndsWith($".{savedName}", StringComparison.Ordinal) ? renamed[..^savedName.Length] + newName : renamed;
        }
        var missing = file.Entries.Select(e => e.Name).Where(n => !targets.ContainsKey(Target(n))).Take(5).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidDataException($"{file.FilePath}: tensors with no place in the model: {string.Join(", ", missing)}. The adapter was saved for a different model or configuration.");
        }
        using var _ = no_grad();
        foreach (var entry in file.Entries)
        {
            var target = targets[Target(entry.Name)];
            if (!target.shape.SequenceEqual(entry.Shape))
            {
                throw new InvalidDataException($"{file.FilePath}: tensor '{entry.Name}' has shape [{string.Join(", ", entry.Shape)}] but the model expects [{string.Join(", ", target.shape)}].");
            }
            file.ReadInto(entry.Name, target);
        }
    }
}
