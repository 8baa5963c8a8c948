namespace Microsoft.ML.Lora.MLNet.Persistence;

/// <summary>
/// Base models loaded for saved zips, shared by fingerprint: loading several zips over one base loads its
/// weights once, and each zip's adapter becomes one more named adapter on it. Reference-counted: the base is
/// disposed when the last transformer using it is disposed.
/// </summary>
internal static class SharedBaseCache
{
    private static readonly Dictionary<string, Entry> Entries = new(StringComparer.Ordinal);
    private static readonly object Gate = new();

    private sealed class Entry(LoraBaseModel model)
    {
        public LoraBaseModel Model { get; } = model;
        public int References { get; set; }
    }

    /// <summary>The shared base for a fingerprint, loading it with <paramref name="load"/> the first time.</summary>
    public static LoraBaseModel Acquire(string fingerprint, Func<LoraBaseModel> load)
    {
        lock (Gate)
        {
            if (!Entries.TryGetValue(fingerprint, out var entry))
            {
                entry = new Entry(load());
                Entries[fingerprint] = entry;
            }
            entry.References++;
            return entry.Model;
        }
    }

    /// <summary>True when <paramref name="model"/> came from this cache.</summary>
    public static bool Holds(LoraBaseModel model)
    {
        lock (Gate)
        {
            return Entries.Values.Any(e => ReferenceEquals(e.Model, model));
        }
    }

    /// <summary>Drops one reference; the last one disposes the base.</summary>
    public static void Release(LoraBaseModel model)
    {
        lock (Gate)
        {
            var pair = Entries.FirstOrDefault(kv => ReferenceEquals(kv.Value.Model, model));
            if (pair.Value is null)
            {
                return;
            }
            if (--pair.Value.References == 0)
            {
                Entries.Remove(pair.Key);
                model.Dispose();
            }
        }
    }
}
