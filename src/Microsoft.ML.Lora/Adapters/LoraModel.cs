using System.Globalization;
using Microsoft.ML.Lora.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// Named LoRA adapters on one frozen <see cref="PretrainedModel"/> (PEFT's <c>LoraModel</c>/<c>PeftModel</c>):
/// add, activate one or several, delete, disable temporarily, run mixed-adapter batches, merge and unload.
/// The adapters live inside the model's <see cref="LoraLayer"/>s, so switching never copies base weights.
/// Only the active adapters' parameters (and their modules_to_save copies and chosen biases) are trainable.
/// </summary>
public sealed partial class LoraModel
{
    private readonly Dictionary<string, LoraConfig> _configs = new(StringComparer.Ordinal);
    private string[] _active = [];

    /// <summary>Wraps a model and freezes all of its parameters.</summary>
    public LoraModel(PretrainedModel model)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        RefreshLayerPaths();
        UpdateTrainable();
    }

    /// <summary>The model the adapters live in.</summary>
    public PretrainedModel Model { get; }

    /// <summary>The adapters by name with the configs they were created from (all-linear expanded to names).</summary>
    public IReadOnlyDictionary<string, LoraConfig> Adapters => _configs;

    /// <summary>The adapters the forward pass applies, in order.</summary>
    public IReadOnlyList<string> ActiveAdapters => _active;

    /// <summary>Every adaptable layer of the model with its path.</summary>
    public IEnumerable<(string Path, LoraLayer Layer)> LoraLayers() =>
        Model.named_modules().Where(m => m.module is LoraLayer).Select(m => (m.name, (LoraLayer)m.module));

    /// <summary>
    /// Adds an adapter to every layer <paramref name="config"/> targets, with modules_to_save copies, and
    /// activates it when no adapter is active yet (PEFT's get_peft_model; later adapters need
    /// <see cref="SetActiveAdapters"/>). Random initialisation draws from <paramref name="generator"/>.
    /// </summary>
    public AdapterInjection AddAdapter(string name, LoraConfig config, Generator? generator = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(config);
        if (name.Contains('.') || name == LoraLayer.BaseAdapterName)
        {
            throw new ArgumentException($"Adapter name '{name}' is not allowed: names cannot contain '.' or be '{LoraLayer.BaseAdapterName}'.", nameof(name));
        }
        if (_configs.ContainsKey(name))
        {
            throw new ArgumentException($"An adapter named '{name}' already exists.", nameof(name));
        }
        config.Validate($"adapter '{name}'");
        var plan = LoraInjectionPlan.Create(this, name, config);
        foreach (var (path, layer) in plan.Targets)
        {
            layer.ModulePath = path;
            layer.AddAdapter(name, plan.SettingsFor(path), config.InitLoraWeights, generator);
        }
        foreach (var (path, layer) in plan.SavedModules)
        {
            layer.ModulePath = path;
            layer.AddSavedCopy(name);
        }
        _configs[name] = plan.StoredConfig;
        if (_active.Length == 0)
        {
            SetActiveAdapters(name);
        }
        else
        {
            UpdateTrainable();
        }
        return new AdapterInjection(name, [.. plan.Targets.Select(t => t.Path)], [.. plan.SavedModules.Select(s => s.Path)], plan.StoredConfig);
    }

    /// <summary>Adds an adapter whose random initialisation is reproducible from <paramref name="seed"/>.</summary>
    public AdapterInjection AddAdapter(string name, LoraConfig config, long seed)
    {
        using var generator = new Generator(unchecked((ulong)seed));
        return AddAdapter(name, config, generator);
    }

    /// <summary>Chooses the adapters the forward pass applies (one or several, in order) and makes them trainable.</summary>
    public void SetActiveAdapters(params string[] names)
    {
        foreach (var n in names)
        {
            RequireAdapter(n);
        }
        _active = [.. names];
        foreach (var (_, layer) in LoraLayers())
        {
            layer.SetActiveAdapters(_active);
        }
        UpdateTrainable();
    }

    /// <summary>Removes an adapter from every layer (it must not be merged).</summary>
    public void DeleteAdapter(string name)
    {
        RequireAdapter(name);
        foreach (var (_, layer) in LoraLayers())
        {
            layer.DeleteAdapter(name);
        }
        _configs.Remove(name);
        _active = [.. _active.Where(a => a != name)];
        UpdateTrainable();
    }

    /// <summary>
    /// Runs the base model alone until the returned object is disposed (PEFT's disable_adapter context).
    /// Merged adapters are unmerged for that time and merged again afterwards.
    /// </summary>
    public IDisposable DisableAdapters()
    {
        var layers = LoraLayers().Select(l => l.Layer).ToList();
        var merged = layers.Select(l => l.MergedAdapters.ToList()).ToList();
        foreach (var layer in layers)
        {
            layer.Unmerge();
            layer.AdaptersDisabled = true;
        }
        return new Restore(() =>
        {
            for (int i = 0; i < layers.Count; i++)
            {
                layers[i].AdaptersDisabled = false;
                layers[i].Merge(merged[i]);
            }
        });
    }

    /// <summary>
    /// Until disposed, row i of every batch uses adapter <paramref name="rowAdapters"/>[i] alone
    /// (<see cref="LoraLayer.BaseAdapterName"/> for none), whatever the active adapters are; each adapter runs
    /// on its own rows only. Rows must be dimension 0 of every layer input.
    /// </summary>
    public IDisposable MixedBatch(IReadOnlyList<string> rowAdapters)
    {
        ArgumentNullException.ThrowIfNull(rowAdapters);
        foreach (var name in rowAdapters.Distinct())
        {
            if (name != LoraLayer.BaseAdapterName)
            {
                RequireAdapter(name);
            }
        }
        var layers = LoraLayers().Select(l => l.Layer).ToList();
        if (layers.FirstOrDefault(l => l.MergedAdapters.Count > 0) is { } merged)
        {
            throw new InvalidOperationException($"{merged.ModulePath} has merged adapters; unmerge before running a mixed-adapter batch.");
        }
        var device = Model.parameters().First().device;
        var routing = LoraBatchRouting.Create(rowAdapters, device);
        foreach (var layer in layers)
        {
            layer.Routing = routing;
        }
        return new Restore(() =>
        {
            foreach (var layer in layers)
            {
                layer.Routing = null;
            }
            routing.Dispose();
        });
    }

    /// <summary>Trainable and total parameter counts (elements), as PEFT's get_nb_trainable_parameters.</summary>
    public (long Trainable, long Total) CountParameters()
    {
        long trainable = 0, total = 0;
        foreach (var p in Model.parameters())
        {
            total += p.numel();
            if (p.requires_grad)
            {
                trainable += p.numel();
            }
        }
        return (trainable, total);
    }

    /// <summary>"trainable params: X || all params: Y || trainable%: Z" exactly as PEFT's print_trainable_parameters.</summary>
    public string TrainableParametersReport()
    {
        var (trainable, total) = CountParameters();
        double percent = total == 0 ? 0 : 100.0 * trainable / total;
        return string.Format(CultureInfo.InvariantCulture, "trainable params: {0:N0} || all params: {1:N0} || trainable%: {2:F4}", trainable, total, percent);
    }

    /// <summary>
    /// Freezes everything, then unfreezes the active adapters' parameters, their saved copies and the biases
    /// their bias mode selects (adapters in inference mode stay frozen).
    /// </summary>
    internal void UpdateTrainable()
    {
        foreach (var p in Model.parameters())
        {
            p.requires_grad = false;
        }
        var layers = LoraLayers().ToList();
        foreach (var name in _active)
        {
            var config = _configs[name];
            if (config.InferenceMode)
            {
                continue;
            }
            foreach (var (_, layer) in layers)
            {
                foreach (var (_, parameter) in layer.AdapterParameters(name))
                {
                    parameter.requires_grad = true;
                }
                if (config.Bias == LoraBias.LoraOnly && layer.HasAdapter(name) && layer.BaseBias is { } bias)
                {
                    bias.requires_grad = true;
                }
            }
            if (config.Bias == LoraBias.All)
            {
                foreach (var (_, bias) in BaseBiases())
                {
                    bias.requires_grad = true;
                }
            }
        }
    }

    /// <summary>Every bias of the base model (not of adapters or saved copies) with its full name.</summary>
    internal IEnumerable<(string Name, Parameter Bias)> BaseBiases()
    {
        var layerPaths = LoraLayers().Select(l => l.Path + ".").ToList();
        return Model.named_parameters()
            .Where(p => (p.name == "bias" || p.name.EndsWith(".bias", StringComparison.Ordinal))
                && !layerPaths.Any(l => p.name.StartsWith(l, StringComparison.Ordinal) && p.name != l + "bias"));
    }

    /// <summary>Replaces the config kept for an adapter (an import keeps the file's config verbatim).</summary>
    internal void ReplaceStoredConfig(string name, LoraConfig config)
    {
        RequireAdapter(name);
        _configs[name] = config;
        UpdateTrainable();
    }

    /// <summary>Names layers added to the model after this wrapper was created (e.g. a classification head).</summary>
    internal void RefreshLayerPaths()
    {
        foreach (var (path, layer) in LoraLayers())
        {
            layer.ModulePath = path;
        }
    }

    private void RequireAdapter(string name)
    {
        if (!_configs.ContainsKey(name))
        {
            throw new ArgumentException($"No adapter named '{name}' (adapters: {(_configs.Count == 0 ? "none" : string.Join(", ", _configs.Keys))}).", nameof(name));
        }
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        private Action? _undo = undo;

        public void Dispose()
        {
            _undo?.Invoke();
            _undo = null;
        }
    }
}

/// <summary>What <see cref="LoraModel.AddAdapter(string, LoraConfig, Generator?)"/> did.</summary>
/// <param name="Name">The adapter's name.</param>
/// <param name="TargetedModules">Paths of the layers that received LoRA factors.</param>
/// <param name="SavedModules">Paths of the modules trained in full and saved (modules_to_save).</param>
/// <param name="Config">The config as stored (all-linear expanded).</param>
public sealed record AdapterInjection(string Name, IReadOnlyList<string> TargetedModules, IReadOnlyList<string> SavedModules, LoraConfig Config);
