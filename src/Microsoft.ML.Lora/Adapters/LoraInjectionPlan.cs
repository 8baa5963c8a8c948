namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// Where an adapter goes, decided before anything changes (so a bad config leaves the model untouched):
/// the layers its target_modules select, the modules_to_save copies, and per-layer rank and α.
/// </summary>
internal sealed class LoraInjectionPlan
{
    private readonly LoraConfig _config;

    private LoraInjectionPlan(LoraConfig config, List<(string, LoraLayer)> targets, List<(string, LoraLayer)> saved, LoraConfig stored)
    {
        _config = config;
        Targets = targets;
        SavedModules = saved;
        StoredConfig = stored;
    }

    public IReadOnlyList<(string Path, LoraLayer Layer)> Targets { get; }

    public IReadOnlyList<(string Path, LoraLayer Layer)> SavedModules { get; }

    /// <summary>The config kept with the adapter: a copy with all-linear replaced by the layer names it chose, as PEFT stores it.</summary>
    public LoraConfig StoredConfig { get; }

    public LoraAdapterSettings SettingsFor(string path) => new(
        LoraTargetMatcher.RankFor(_config, path),
        LoraTargetMatcher.AlphaFor(_config, path),
        _config.Dropout,
        _config.UseRsLora,
        _config.UseDora);

    public static LoraInjectionPlan Create(LoraModel owner, string name, LoraConfig config)
    {
        var source = $"adapter '{name}'";
        var modules = owner.Model.named_modules().Where(m => m.name.Length > 0).ToList();
        var layerPaths = modules.Where(m => m.module is LoraLayer).Select(m => m.name + ".").ToList();
        // Modules inside an adaptable layer (its adapter containers) are never candidates.
        var candidates = modules.Where(m => !layerPaths.Any(p => m.name.StartsWith(p, StringComparison.Ordinal))).ToList();
        var outputHead = owner.Model.OutputHeadModule;

        var targets = new List<(string, LoraLayer)>();
        foreach (var (path, module) in candidates)
        {
            if (!LoraTargetMatcher.IsTarget(config, path, module is AdaptableLinear, outputHead))
            {
                continue;
            }
            if (module is not LoraLayer layer)
            {
                if (config.TargetsAllLinear)
                {
                    continue;
                }
                throw new InvalidAdapterConfigException(source, $"target_modules selects '{path}' ({module.GetType().Name}), which is not a linear or embedding layer.");
            }
            targets.Add((path, layer));
        }
        if (targets.Count == 0)
        {
            var examples = string.Join(", ", candidates.Where(m => m.module is LoraLayer).Take(6).Select(m => m.name));
            throw new InvalidAdapterConfigException(source, $"target_modules {Describe(config)} matches no layer of this model (its layers look like: {examples}).");
        }
        CheckTargetsSupportSettings(config, targets, source);

        var saved = PlanSavedModules(config, candidates, source);
        var stored = config.Clone();
        if (config.TargetsAllLinear)
        {
            stored.TargetModulesRegex = null;
            stored.TargetModules = [.. targets.Select(t => LeafName(t.Item1)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        }
        return new LoraInjectionPlan(config, targets, saved, stored);
    }

    private static List<(string, LoraLayer)> PlanSavedModules(LoraConfig config, List<(string name, TorchSharp.torch.nn.Module module)> candidates, string source)
    {
        var names = config.EffectiveModulesToSave;
        var saved = new List<(string, LoraLayer)>();
        foreach (var (path, module) in candidates)
        {
            if (!LoraTargetMatcher.IsModuleToSave(names, path) || saved.Any(s => path.StartsWith(s.Item1 + ".", StringComparison.Ordinal)))
            {
                continue;
            }
            if (module is not LoraLayer layer)
            {
                throw new InvalidAdapterConfigException(source, $"modules_to_save selects '{path}' ({module.GetType().Name}); only linear and embedding layers can be saved per adapter.");
            }
            saved.Add((path, layer));
        }
        // PEFT adds classifier/score for sequence classification whether or not the model has them.
        var missing = (config.ModulesToSave ?? [])
            .Where(n => !LoraConfig.ClassifierHeadNames.Contains(n) && !saved.Any(s => s.Item1.EndsWith(n, StringComparison.Ordinal)))
            .ToList();
        if (missing.Count > 0)
        {
            throw new InvalidAdapterConfigException(source, $"modules_to_save names {string.Join(", ", missing)}, which the model does not have.");
        }
        return saved;
    }

    private static void CheckTargetsSupportSettings(LoraConfig config, List<(string Path, LoraLayer Layer)> targets, string source)
    {
        var embeddings = targets.Where(t => t.Layer is AdaptableEmbedding).Select(t => t.Path).ToList();
        if (config.UseDora && embeddings.Count > 0)
        {
            throw new NotSupportedException($"{source}: DoRA is not supported on embedding layers ({string.Join(", ", embeddings)}); leave them out of target_modules or set use_dora to false.");
        }
        if (config.InitLoraWeights is LoraInitialization.Pissa or LoraInitialization.Olora && embeddings.Count > 0)
        {
            throw new NotSupportedException($"{source}: {config.InitLoraWeights} initialisation is not supported on embedding layers ({string.Join(", ", embeddings)}).");
        }
        if (config.InitLoraWeights == LoraInitialization.Other)
        {
            throw new NotSupportedException($"{source}: init_lora_weights method is not supported for new adapters (supported: true, false, gaussian, pissa, olora, nonzero).");
        }
        if (config.InitLoraWeights is LoraInitialization.Pissa or LoraInitialization.Olora)
        {
            foreach (var (path, layer) in targets)
            {
                var shape = layer.BaseShape;
                int r = LoraTargetMatcher.RankFor(config, path);
                if (r > Math.Min(shape[0], shape[1]))
                {
                    throw new ArgumentOutOfRangeException(nameof(config), r, $"{source}: {config.InitLoraWeights} needs r ≤ min(out, in) = {Math.Min(shape[0], shape[1])} at {path}.");
                }
            }
        }
    }

    private static string Describe(LoraConfig config) =>
        config.TargetModulesRegex is { } regex ? $"'{regex}'" : $"[{string.Join(", ", config.TargetModules ?? [])}]";

    private static string LeafName(string path) => path[(path.LastIndexOf('.') + 1)..];
}
