using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Microsoft.ML.Lora.Analysis;

/// <summary>
/// The analyses' JSON files, each <c>{"modules": {"&lt;module path&gt;": {…}}}</c> with modules by layer then path:
/// <c>spectrum.json</c>, <c>similarity.json</c>, <c>amplification.json</c> and <c>summary.json</c>.
/// </summary>
public static class AnalysisJson
{
    /// <summary>The spectrum file's name.</summary>
    public const string SpectrumFile = "spectrum.json";

    /// <summary>The similarity file's name.</summary>
    public const string SimilarityFile = "similarity.json";

    /// <summary>The amplification file's name.</summary>
    public const string AmplificationFile = "amplification.json";

    /// <summary>The summary file's name.</summary>
    public const string SummaryFile = "summary.json";

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Per module: <c>singular_values</c>, <c>energy</c> (cumulative share of ‖ΔW‖_F²), <c>effective_rank</c> (the
    /// entropy-based one), the same again as <c>effective_rank_entropy</c>, <c>effective_rank_energy90</c> (directions
    /// holding 90 % of the energy) and <c>r</c>.
    /// </summary>
    public static string Spectrum(IEnumerable<ModuleSpectrum> spectra) => Modules(spectra, s => s.Module, s => new JsonObject
    {
        ["singular_values"] = Array(s.SingularValues),
        ["energy"] = Array(s.Energy),
        ["effective_rank"] = s.EffectiveRankEntropy,
        ["effective_rank_entropy"] = s.EffectiveRankEntropy,
        ["effective_rank_energy90"] = s.EffectiveRankEnergy90,
        ["r"] = s.Rank,
    });

    /// <summary>Per module: <c>phi</c>, rows i = 1..r₁ of the first adapter, columns j = 1..r₂ of the second.</summary>
    public static string Similarity(IEnumerable<ModuleSimilarity> similarities) => Modules(similarities, s => s.Module, s => new JsonObject
    {
        ["phi"] = new JsonArray([.. s.Phi.Select(row => (JsonNode)Array(row))]),
    });

    /// <summary>
    /// Table 7 per module: <c>r</c>, <c>projection_norm</c> ‖UᵀWV‖_F with U, V from <c>delta_w</c>, <c>w</c> or
    /// <c>random</c>, <c>w_norm</c>, <c>delta_w_norm</c> and <c>amplification</c> (null when undefined); plus the
    /// random subspaces' <c>random_seed</c>.
    /// </summary>
    public static string Amplification(IEnumerable<ModuleAmplification> rows, int seed)
    {
        var root = ModulesNode(rows, a => a.Module, a => new JsonObject
        {
            ["r"] = a.Rank,
            ["projection_norm"] = new JsonObject
            {
                ["delta_w"] = a.ProjectionOnDeltaSubspace,
                ["w"] = a.ProjectionOnWeightSubspace,
                ["random"] = a.ProjectionOnRandomSubspace,
            },
            ["w_norm"] = a.WeightNorm,
            ["delta_w_norm"] = a.DeltaNorm,
            ["amplification"] = a.Amplification,
        });
        root["random_seed"] = seed;
        return root.ToJsonString(Options);
    }

    /// <summary>
    /// Per module <c>layer</c>, <c>module_type</c>, <c>r</c>, <c>delta_w_norm</c>, <c>w_norm</c> and
    /// <c>relative_change</c> (null without the base); then <c>by_module_type</c> and <c>by_layer</c> averages.
    /// </summary>
    public static string Summary(AdapterChangeSummary summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var root = ModulesNode(summary.Modules, m => m.Module, m => new JsonObject
        {
            ["layer"] = m.Layer,
            ["module_type"] = m.ModuleType,
            ["r"] = m.Rank,
            ["delta_w_norm"] = m.DeltaNorm,
            ["w_norm"] = m.WeightNorm,
            ["relative_change"] = m.RelativeChange,
        });
        root["by_module_type"] = Groups(summary.ByModuleType);
        root["by_layer"] = Groups(summary.ByLayer);
        return root.ToJsonString(Options);
    }

    /// <summary>Writes <paramref name="json"/> as <paramref name="fileName"/> into <paramref name="folder"/> (created if needed).</summary>
    public static string Write(string folder, string fileName, string json)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, fileName);
        File.WriteAllText(path, json + Environment.NewLine);
        return path;
    }

    private static JsonObject Groups(IEnumerable<ChangeGroup> groups)
    {
        var node = new JsonObject();
        foreach (var g in groups)
        {
            node[g.Name] = new JsonObject { ["modules"] = g.Modules, ["mean_delta_w_norm"] = g.MeanDeltaNorm, ["mean_relative_change"] = g.MeanRelativeChange };
        }
        return node;
    }

    private static string Modules<T>(IEnumerable<T> items, Func<T, string> name, Func<T, JsonObject> body) =>
        ModulesNode(items, name, body).ToJsonString(Options);

    private static JsonObject ModulesNode<T>(IEnumerable<T> items, Func<T, string> name, Func<T, JsonObject> body)
    {
        ArgumentNullException.ThrowIfNull(items);
        var modules = new JsonObject();
        foreach (var item in items.OrderBy(name, ModuleNames.Order))
        {
            modules[name(item)] = body(item);
        }
        return new JsonObject { ["modules"] = modules };
    }

    private static JsonArray Array(IEnumerable<double> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);
}
