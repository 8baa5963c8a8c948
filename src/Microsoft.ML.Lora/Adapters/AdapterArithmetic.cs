using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// Weighted combinations of adapters into a new adapter (PEFT's add_weighted_adapter): linear, cat and svd.
/// The new adapter has α = r (scale 1) and targets the union of the sources' layers.
/// </summary>
public static class AdapterArithmetic
{
    /// <summary>
    /// Adds adapter <paramref name="newName"/> = Σ weightᵢ·adapterᵢ combined as <paramref name="combination"/>.
    /// Sources must be plain LoRA (not DoRA). Linear needs equal ranks per layer; svd uses
    /// <paramref name="svdRank"/> (default the largest source rank). The new adapter is not activated.
    /// </summary>
    public static AdapterInjection AddWeightedAdapter(LoraModel model, IReadOnlyList<string> adapters, IReadOnlyList<double> weights,
        string newName, AdapterCombination combination = AdapterCombination.Svd, int? svdRank = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (adapters.Count == 0 || adapters.Count != weights.Count)
        {
            throw new ArgumentException($"Give one weight per adapter ({adapters.Count} adapters, {weights.Count} weights).", nameof(weights));
        }
        if (svdRank is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(svdRank), svdRank, "svdRank must be at least 1.");
        }
        if (model.Adapters.ContainsKey(newName))
        {
            throw new ArgumentException($"An adapter named '{newName}' already exists.", nameof(newName));
        }
        var configs = adapters.Select(a => model.Adapters.TryGetValue(a, out var c) ? c : throw new ArgumentException($"No adapter named '{a}'.", nameof(adapters))).ToList();
        if (configs.Any(c => c.UseDora))
        {
            throw new NotSupportedException("Weighted combination of DoRA adapters is not supported (their magnitudes do not combine linearly).");
        }
        if (model.IsMerged)
        {
            throw new InvalidOperationException("Unmerge the model before combining adapters.");
        }

        var plans = new List<(string Path, LoraLayer Layer, Tensor A, Tensor B)>();
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            foreach (var (path, layer) in model.LoraLayers())
            {
                var present = adapters.Select((a, i) => (Adapter: a, Weight: weights[i])).Where(p => layer.HasAdapter(p.Adapter)).ToList();
                if (present.Count == 0)
                {
                    continue;
                }
                var (a, b) = combination switch
                {
                    AdapterCombination.Linear => Linear(layer, present, path),
                    AdapterCombination.Concatenate => Concatenate(layer, present),
                    _ => Svd(layer, present, svdRank ?? present.Max(p => layer.Adapters[p.Adapter].Rank)),
                };
                plans.Add((path, layer, a.DetachFromDisposeScope(), b.DetachFromDisposeScope()));
            }
        }

        var config = configs[0].Clone();
        config.UseRsLora = false;
        config.InitLoraWeights = LoraInitialization.Default;
        if (configs.All(c => c.TargetModulesRegex is null))
        {
            config.TargetModules = [.. configs.SelectMany(c => c.TargetModules ?? []).Distinct(StringComparer.Ordinal)];
        }
        else if (configs.All(c => c.TargetModulesRegex is not null))
        {
            config.TargetModulesRegex = string.Join("|", configs.Select(c => $"({c.TargetModulesRegex})"));
        }
        else
        {
            throw new ArgumentException("Adapters whose target_modules mix a list and a regex cannot be combined (as in PEFT).", nameof(adapters));
        }
        config.Rank = plans.Count == 0 ? 1 : (int)plans.Max(p => p.A.shape[0]);
        config.Alpha = config.Rank;
        config.RankPattern = [];
        config.AlphaPattern = [];
        foreach (var (path, _, a, _) in plans.Where(p => p.A.shape[0] != config.Rank))
        {
            // α = r per layer keeps every layer's scale at 1.
            config.RankPattern[$"^{Regex.Escape(path)}$"] = (int)a.shape[0];
            config.AlphaPattern[$"^{Regex.Escape(path)}$"] = a.shape[0];
        }
        return model.AddCombinedAdapter(newName, config, plans);
    }

    // PEFT "linear": A = Σ sign·√|ws|·Aᵢ, B = Σ √|ws|·Bᵢ (the sign goes on one side only).
    private static (Tensor A, Tensor B) Linear(LoraLayer layer, List<(string Adapter, double Weight)> present, string path)
    {
        var ranks = present.Select(p => layer.Adapters[p.Adapter].Rank).Distinct().ToList();
        if (ranks.Count != 1)
        {
            throw new ArgumentException($"Linear combination needs equal ranks, but {path} has ranks {string.Join(", ", ranks)}; use Concatenate or Svd.");
        }
        Tensor? a = null, b = null;
        foreach (var (adapter, weight) in present)
        {
            double ws = weight * layer.Adapters[adapter].Scale;
            double root = Math.Sqrt(Math.Abs(ws));
            var (fa, fb) = layer.Factors(adapter);
            var termA = fa.to(ScalarType.Float32).mul(ws < 0 ? -root : root);
            var termB = fb.to(ScalarType.Float32).mul(root);
            a = a is null ? termA : a.add(termA);
            b = b is null ? termB : b.add(termB);
        }
        return (a!, b!);
    }

    // PEFT "cat": stacking the scaled factors reproduces Σ wᵢsᵢBᵢAᵢ exactly at rank Σrᵢ.
    private static (Tensor A, Tensor B) Concatenate(LoraLayer layer, List<(string Adapter, double Weight)> present)
    {
        var aParts = present.Select(p => layer.Factors(p.Adapter).A.to(ScalarType.Float32).mul(p.Weight * layer.Adapters[p.Adapter].Scale)).ToArray();
        var bParts = present.Select(p => layer.Factors(p.Adapter).B.to(ScalarType.Float32)).ToArray();
        return (cat(aParts, 0), cat(bParts, 1));
    }

    // PEFT "svd": the weighted sum of deltas (adapter space [out, in]) truncated to rank k: B = U_k·S_k, A = V_kᵀ.
    private static (Tensor A, Tensor B) Svd(LoraLayer layer, List<(string Adapter, double Weight)> present, int rank)
    {
        Tensor? delta = null;
        foreach (var (adapter, weight) in present)
        {
            var (fa, fb) = layer.Factors(adapter);
            var term = fb.to(ScalarType.Float32).matmul(fa.to(ScalarType.Float32)).mul(weight * layer.Adapters[adapter].Scale);
            delta = delta is null ? term : delta.add(term);
        }
        int k = (int)Math.Min(rank, Math.Min(delta!.shape[0], delta.shape[1]));
        var (u, s, vh) = linalg.svd(delta, fullMatrices: false);
        return (vh[..k].contiguous(), (u[.., ..k] * s[..k].unsqueeze(0)).contiguous());
    }
}
