namespace Microsoft.ML.Lora.Analysis;

/// <summary>How much one module changed.</summary>
/// <param name="Module">The module's path.</param>
/// <param name="Layer">Its layer index (null outside the layer stack).</param>
/// <param name="ModuleType">Its role within a layer (<see cref="ModuleNames.TypeOf"/>).</param>
/// <param name="Rank">The adapter's r for it.</param>
/// <param name="DeltaNorm">‖ΔW‖_F.</param>
/// <param name="WeightNorm">‖W‖_F of the base weight, null when the base was not given.</param>
public sealed record ModuleChange(string Module, int? Layer, string ModuleType, int Rank, double DeltaNorm, double? WeightNorm)
{
    /// <summary>‖ΔW‖_F / ‖W‖_F, null without the base (or for a zero W).</summary>
    public double? RelativeChange => WeightNorm is > 0 ? DeltaNorm / WeightNorm : null;
}

/// <summary>A group of modules (one module type, or one layer) and how much it changed on average.</summary>
/// <param name="Name">The module type, or the layer index as text.</param>
/// <param name="Modules">How many modules the group holds.</param>
/// <param name="MeanDeltaNorm">Mean ‖ΔW‖_F.</param>
/// <param name="MeanRelativeChange">Mean ‖ΔW‖_F / ‖W‖_F, null without the base.</param>
public sealed record ChangeGroup(string Name, int Modules, double MeanDeltaNorm, double? MeanRelativeChange);

/// <summary>Which layers and module types an adapter changed most: ‖ΔW‖_F / ‖W‖_F per module, type and layer.</summary>
/// <param name="Modules">Every module, by layer then path.</param>
public sealed record AdapterChangeSummary(IReadOnlyList<ModuleChange> Modules)
{
    /// <summary>Whether the base was given (relative changes are known).</summary>
    public bool HasBase => Modules.Count > 0 && Modules.All(m => m.WeightNorm is not null);

    /// <summary>Per module type, largest change first.</summary>
    public IReadOnlyList<ChangeGroup> ByModuleType => Rank(Modules.GroupBy(m => m.ModuleType, StringComparer.Ordinal).Select(g => Group(g.Key, [.. g])));

    /// <summary>Per layer, in layer order (modules outside the layer stack are left out).</summary>
    public IReadOnlyList<ChangeGroup> ByLayer =>
        [.. Modules.Where(m => m.Layer is not null).GroupBy(m => m.Layer!.Value).OrderBy(g => g.Key)
            .Select(g => Group(g.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), [.. g]))];

    /// <summary>The summary of an adapter; with <paramref name="baseWeights"/>, relative to W.</summary>
    public static AdapterChangeSummary Compute(LoraAdapterFactors adapter, BaseModelWeights? baseWeights)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        var modules = new List<ModuleChange>();
        foreach (var module in adapter.Modules)
        {
            double? weightNorm = null;
            if (baseWeights is not null)
            {
                using var scope = TorchSharp.torch.NewDisposeScope();
                weightNorm = TorchSharp.torch.linalg.norm(baseWeights.WeightTensor(module)).item<double>();
            }
            double delta = AdapterSpectrum.Of(module).FrobeniusNorm;
            modules.Add(new ModuleChange(module.Module, module.Layer, module.ModuleType, module.Rank, delta, weightNorm));
        }
        return new AdapterChangeSummary(modules);
    }

    private ChangeGroup Group(string name, List<ModuleChange> members) =>
        new(name, members.Count, members.Average(m => m.DeltaNorm), HasBase ? members.Average(m => m.RelativeChange ?? 0) : null);

    private static List<ChangeGroup> Rank(IEnumerable<ChangeGroup> groups) =>
        [.. groups.OrderByDescending(g => g.MeanRelativeChange ?? g.MeanDeltaNorm).ThenBy(g => g.Name, StringComparer.Ordinal)];
}
