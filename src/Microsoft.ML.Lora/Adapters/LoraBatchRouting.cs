using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// Which rows of a batch use which adapter (PEFT's <c>adapter_names</c> argument): one index tensor per
/// adapter, built once per batch and shared by every layer. Rows named <see cref="LoraLayer.BaseAdapterName"/>
/// get the base model only.
/// </summary>
internal sealed class LoraBatchRouting : IDisposable
{
    private LoraBatchRouting(long batchSize, IReadOnlyList<(string Adapter, Tensor Rows)> groups)
    {
        BatchSize = batchSize;
        Groups = groups;
    }

    /// <summary>Rows in the batch.</summary>
    public long BatchSize { get; }

    /// <summary>Each adapter used by some row with the indices (int64) of its rows.</summary>
    public IReadOnlyList<(string Adapter, Tensor Rows)> Groups { get; }

    /// <summary>Groups the rows by adapter; the index tensors live on <paramref name="device"/>.</summary>
    public static LoraBatchRouting Create(IReadOnlyList<string> rowAdapters, Device device)
    {
        var groups = rowAdapters
            .Select((adapter, row) => (adapter, row))
            .Where(p => p.adapter != LoraLayer.BaseAdapterName)
            .GroupBy(p => p.adapter, StringComparer.Ordinal)
            .Select(g =>
            {
                var rows = tensor(g.Select(p => (long)p.row).ToArray(), device: device);
                rows.DetachFromDisposeScope();
                return (g.Key, rows);
            })
            .ToList();
        return new LoraBatchRouting(rowAdapters.Count, groups);
    }

    /// <summary>Throws when a layer sees a batch of another size (rows must be the first dimension).</summary>
    public void CheckBatch(Tensor x, string modulePath)
    {
        if (x.shape[0] != BatchSize)
        {
            throw new InvalidOperationException($"{modulePath}: the mixed-adapter batch names {BatchSize} rows but the layer received {x.shape[0]} (dimension 0 must be the batch).");
        }
    }

    public void Dispose()
    {
        foreach (var (_, rows) in Groups)
        {
            rows.Dispose();
        }
    }
}
