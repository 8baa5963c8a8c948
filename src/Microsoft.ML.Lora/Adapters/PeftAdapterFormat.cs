using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// Hugging Face PEFT's adapter folder: <c>adapter_config.json</c> + <c>adapter_model.safetensors</c> (fp32),
/// read onto a base model and written from one, with PEFT's tensor names (see <see cref="PeftStateDict"/>).
/// </summary>
public static class PeftAdapterFormat
{
    /// <summary>The weights file PEFT writes.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>
    /// Imports a PEFT adapter folder onto <paramref name="model"/> (wrapping it in a new <see cref="LoraModel"/>).
    /// A classification head the adapter saves (modules_to_save) is added to the model when missing.
    /// </summary>
    /// <exception cref="InvalidAdapterConfigException">The config is malformed or uses a PEFT feature this library lacks.</exception>
    /// <exception cref="AdapterMismatchException">The tensors do not fit the model (made for another base).</exception>
    public static AdapterImportReport Import(PretrainedModel model, string directory, string adapterName = "default") =>
        Import(new LoraModel(model), directory, adapterName);

    /// <summary>Imports a PEFT adapter folder as one more named adapter of <paramref name="model"/>.</summary>
    public static AdapterImportReport Import(LoraModel model, string directory, string adapterName = "default")
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = LoraConfig.Load(directory);
        var weightsPath = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(weightsPath))
        {
            throw new FileNotFoundException($"Adapter weights '{weightsPath}' do not exist (PEFT's .bin format is not read; save with safe_serialization).", weightsPath);
        }
        using var file = SafetensorsFile.Open(weightsPath);
        var tensors = file.ReadAll();
        try
        {
            return Load(model, adapterName, config, tensors, directory);
        }
        finally
        {
            foreach (var t in tensors.Values)
            {
                t.Dispose();
            }
        }
    }

    /// <summary>
    /// Adds adapter <paramref name="adapterName"/> described by <paramref name="config"/> and fills it from
    /// PEFT-named tensors. Every tensor must map to a parameter of the right shape and every targeted module must
    /// have its tensors; otherwise nothing is added and <see cref="AdapterMismatchException"/> lists the problems.
    /// </summary>
    public static AdapterImportReport Load(LoraModel model, string adapterName, LoraConfig config, IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        var configSource = $"{source} ({LoraConfig.FileName})";
        var unsupported = config.UnsupportedSettings();
        if (unsupported.Count > 0)
        {
            throw new InvalidAdapterConfigException(configSource, $"uses PEFT features this library does not implement: {string.Join("; ", unsupported)}.");
        }
        config.Validate(configSource);
        AddMissingClassificationHead(model, config, tensors);

        // Created with the default initialisation: the values are overwritten, and an imported PiSSA/OLoRA
        // adapter must not re-decompose the base.
        var injectionConfig = config.Clone();
        injectionConfig.InitLoraWeights = LoraInitialization.Default;
        var expected = ExpectedShapes(model, adapterName, injectionConfig);
        var problems = Compare(expected, tensors);
        if (problems.Count > 0)
        {
            throw new AdapterMismatchException(source, problems);
        }

        using var generator = new Generator(0);
        var injection = model.AddAdapter(adapterName, injectionConfig, generator);
        // The original config is kept so the adapter exports exactly as it was imported.
        model.ReplaceStoredConfig(adapterName, config);
        var destinations = PeftStateDict.Entries(model, adapterName, config).ToDictionary(e => e.Key, e => e.Parameter, StringComparer.Ordinal);
        using (no_grad())
        {
            foreach (var (key, value) in tensors)
            {
                destinations[Canonical(key)].copy_(value);
            }
        }
        return new AdapterImportReport(model, adapterName, model.Adapters[adapterName], injection.TargetedModules, injection.SavedModules, tensors.Count,
            [.. (config.AdditionalFields ?? []).Keys.Order(StringComparer.Ordinal)]);
    }

    /// <summary>Writes adapter <paramref name="adapterName"/> as a PEFT folder (config + fp32 safetensors).</summary>
    public static void Export(LoraModel model, string directory, string adapterName = "default")
    {
        ArgumentNullException.ThrowIfNull(model);
        var tensors = PeftStateDict.Export(model, adapterName);
        try
        {
            Directory.CreateDirectory(directory);
            SafetensorsWriter.Write(Path.Combine(directory, WeightsFileName), tensors, [new("format", "pt")]);
            model.Adapters[adapterName].Save(directory);
        }
        finally
        {
            foreach (var t in tensors.Values)
            {
                t.Dispose();
            }
        }
    }

    // PEFT saves a DoRA magnitude without ".weight"; older files sometimes kept it.
    private static string Canonical(string key) =>
        key.EndsWith(".lora_magnitude_vector.weight", StringComparison.Ordinal) ? key[..^".weight".Length] : key;

    // The head PEFT saved (modules_to_save) must exist before the adapter can wrap it.
    private static void AddMissingClassificationHead(LoraModel model, LoraConfig config, IReadOnlyDictionary<string, Tensor> tensors)
    {
        if (model.Model.ClassificationLabels > 0)
        {
            return;
        }
        var heads = model.Model.ClassificationHeadModules;
        var saved = config.EffectiveModulesToSave;
        var head = heads.LastOrDefault(h => LoraTargetMatcher.IsModuleToSave(saved, h) && tensors.ContainsKey($"{PeftStateDict.Prefix}{h}.weight"));
        if (head is not null)
        {
            model.Model.AddClassificationHead((int)tensors[$"{PeftStateDict.Prefix}{head}.weight"].shape[0]);
            model.RefreshLayerPaths();
        }
    }

    // Every tensor name the adapter will have with its shape, computed from the plan before anything changes.
    private static Dictionary<string, long[]> ExpectedShapes(LoraModel model, string adapterName, LoraConfig config)
    {
        var plan = LoraInjectionPlan.Create(model, adapterName, config);
        var expected = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var (path, layer) in plan.Targets)
        {
            var p = PeftStateDict.Prefix + path;
            int r = plan.SettingsFor(path).Rank;
            if (layer is AdaptableLinear linear)
            {
                expected[$"{p}.lora_A.weight"] = [r, linear.InFeatures];
                expected[$"{p}.lora_B.weight"] = [linear.OutFeatures, r];
                if (config.UseDora)
                {
                    expected[$"{p}.lora_magnitude_vector"] = [linear.OutFeatures];
                }
            }
            else if (layer is AdaptableEmbedding embedding)
            {
                expected[$"{p}.lora_embedding_A"] = [r, embedding.NumEmbeddings];
                expected[$"{p}.lora_embedding_B"] = [embedding.EmbeddingDim, r];
            }
            if (config.Bias != LoraBias.None && layer.BaseBias is { } bias)
            {
                expected[$"{p}.base_layer.bias"] = bias.shape;
            }
        }
        foreach (var (path, layer) in plan.SavedModules)
        {
            expected[$"{PeftStateDict.Prefix}{path}.weight"] = layer.BaseShape;
            if (layer.BaseBias is { } bias)
            {
                expected[$"{PeftStateDict.Prefix}{path}.bias"] = bias.shape;
            }
        }
        if (config.Bias == LoraBias.All)
        {
            var targeted = plan.Targets.Select(t => t.Path).Concat(plan.SavedModules.Select(s => s.Path)).ToHashSet(StringComparer.Ordinal);
            foreach (var (name, bias) in model.BaseBiases().Where(b => !targeted.Contains(b.Name[..^5])))
            {
                expected[PeftStateDict.Prefix + name] = bias.shape;
            }
        }
        return expected;
    }

    private static List<string> Compare(Dictionary<string, long[]> expected, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var problems = new List<string>();
        foreach (var (key, value) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (!expected.TryGetValue(Canonical(key), out var shape))
            {
                var parsed = PeftStateDict.Parse(key);
                problems.Add(parsed is null
                    ? $"tensor '{key}' is not a PEFT LoRA tensor name"
                    : $"tensor '{key}' belongs to module '{parsed.Value.Path}', which this model does not have or the config does not select");
            }
            else if (!shape.SequenceEqual(value.shape))
            {
                problems.Add($"tensor '{key}' has shape [{string.Join(", ", value.shape)}] but the model needs [{string.Join(", ", shape)}]");
            }
        }
        var present = tensors.Keys.Select(Canonical).ToHashSet(StringComparer.Ordinal);
        foreach (var key in expected.Keys.Where(k => !present.Contains(k)).Order(StringComparer.Ordinal))
        {
            problems.Add($"the adapter file has no '{key}' for a module the config selects");
        }
        return problems;
    }
}

/// <summary>What an adapter import did (for <c>mllora inspect</c> and <c>mllora peft import</c>).</summary>
/// <param name="Model">The model holding the adapter.</param>
/// <param name="AdapterName">The adapter's name in the model.</param>
/// <param name="Config">The adapter's config (r, α, targets, …).</param>
/// <param name="AdaptedModules">Paths of the layers with LoRA factors.</param>
/// <param name="SavedModules">Paths of the modules_to_save copies (e.g. a classification head).</param>
/// <param name="TensorCount">Tensors read from the file.</param>
/// <param name="PreservedConfigFields">Config keys kept verbatim for export without being interpreted.</param>
public sealed record AdapterImportReport(
    LoraModel Model,
    string AdapterName,
    LoraConfig Config,
    IReadOnlyList<string> AdaptedModules,
    IReadOnlyList<string> SavedModules,
    int TensorCount,
    IReadOnlyList<string> PreservedConfigFields);
