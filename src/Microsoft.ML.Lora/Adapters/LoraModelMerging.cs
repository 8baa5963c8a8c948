using Microsoft.ML.Lora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>Merging adapters into the base weights, and taking them out of the model again.</summary>
public sealed partial class LoraModel
{
    /// <summary>True when some layer has an adapter merged into its base weight.</summary>
    public bool IsMerged => LoraLayers().Any(l => l.Layer.MergedAdapters.Count > 0);

    /// <summary>
    /// Merges adapters (default: the active ones) into the base weights: each delta is computed in fp32 and
    /// the result stored in the base dtype. With <paramref name="safe"/> every merged weight is built aside and
    /// checked for NaN/Inf first; on failure the layers merged so far are restored and
    /// <see cref="UnsafeMergeException"/> names the layer.
    /// </summary>
    public void Merge(IEnumerable<string>? adapters = null, bool safe = false)
    {
        var names = (adapters ?? _active).ToList();
        foreach (var n in names)
        {
            RequireAdapter(n);
        }
        var layers = LoraLayers().Select(l => l.Layer).ToList();
        var before = layers.Select(l => l.MergedAdapters.ToList()).ToList();
        for (int i = 0; i < layers.Count; i++)
        {
            try
            {
                layers[i].Merge(names, safe);
            }
            catch (UnsafeMergeException)
            {
                for (int j = 0; j <= i; j++)
                {
                    layers[j].Unmerge();
                    layers[j].Merge(before[j]);
                }
                throw;
            }
        }
    }

    /// <summary>Subtracts every merged adapter from the base weights again.</summary>
    public void Unmerge()
    {
        foreach (var (_, layer) in LoraLayers())
        {
            layer.Unmerge();
        }
    }

    /// <summary>
    /// Merges the active adapters for good, removes all adapters and returns the plain model (PEFT's
    /// merge_and_unload); its parameters are trainable again. This LoraModel is empty afterwards.
    /// </summary>
    public PretrainedModel MergeAndUnload(bool safe = false)
    {
        Unmerge();
        Merge(_active, safe);
        foreach (var (_, layer) in LoraLayers())
        {
            layer.CommitMerge();
        }
        return Unload();
    }

    /// <summary>
    /// Removes all adapters without merging them and returns the plain base model (PEFT's unload); merged
    /// adapters are unmerged first. Its parameters are trainable again. This LoraModel is empty afterwards.
    /// </summary>
    public PretrainedModel Unload()
    {
        Unmerge();
        foreach (var name in _configs.Keys.ToList())
        {
            DeleteAdapter(name);
        }
        foreach (var p in Model.parameters())
        {
            p.requires_grad = true;
        }
        return Model;
    }

    /// <summary>Adds an adapter whose factors are given per layer (scale 1: α = r), e.g. a weighted combination.</summary>
    internal AdapterInjection AddCombinedAdapter(string name, LoraConfig config, IReadOnlyList<(string Path, LoraLayer Layer, Tensor A, Tensor B)> factors)
    {
        config.Validate($"adapter '{name}'");
        // A fixed generator: the default initialisation is overwritten at once and must not consume the global RNG.
        using var generator = new Generator(0);
        try
        {
            foreach (var (path, layer, a, b) in factors)
            {
                int rank = (int)a.shape[0];
                layer.AddAdapter(name, new LoraAdapterSettings(rank, rank, config.Dropout), LoraInitialization.Default, generator);
                var (targetA, targetB) = layer.Factors(name);
                using (no_grad())
                {
                    targetA.copy_(a);
                    targetB.copy_(b);
                }
            }
        }
        finally
        {
            foreach (var (_, _, a, b) in factors)
            {
                a.Dispose();
                b.Dispose();
            }
        }
        _configs[name] = config;
        UpdateTrainable();
        return new AdapterInjection(name, [.. factors.Select(f => f.Path)], [], config);
    }
}
