namespace Microsoft.ML.Lora.Adapters;

/// <summary>Folding one adapter into the base weights for good, as each cycle of Chain of LoRA ends.</summary>
public sealed partial class LoraModel
{
    /// <summary>
    /// Merges <paramref name="adapter"/> into the base weights (its saved copies replace the layers they copy), forgets
    /// the merge bookkeeping so the change is part of the base, and deletes the adapter. Other adapters must not be
    /// merged at the time: their merges would be committed too.
    /// </summary>
    internal void MergeIntoBase(string adapter, bool safe = false)
    {
        RequireAdapter(adapter);
        if (IsMerged)
        {
            throw new InvalidOperationException($"Adapters are merged into this model already; unmerge them before folding '{adapter}' into the base.");
        }
        Merge([adapter], safe);
        foreach (var (_, layer) in LoraLayers())
        {
            layer.CommitMerge();
        }
        DeleteAdapter(adapter);
    }
}
