using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// What every adaptable layer (<see cref="AdaptableLinear"/>, <see cref="AdaptableEmbedding"/>) shares, like
/// PEFT's <c>LoraLayer</c>: adapters by name, which are active, disabling, merging, and per-adapter full
/// copies of the layer for modules_to_save. The base weight is never copied when adapters switch.
/// </summary>
public abstract class LoraLayer : nn.Module<Tensor, Tensor>
{
    private protected readonly Dictionary<string, AdapterSlot> Slots = new(StringComparer.Ordinal);
    private readonly List<string> _merged = [];
    private string[] _active = [];
    private bool _disabled;

    /// <summary>Creates the layer module.</summary>
    private protected LoraLayer(string name) : base(name)
    {
    }

    /// <summary>The name used by <see cref="LoraModel"/> for the adapter-free rows of a mixed batch.</summary>
    public const string BaseAdapterName = "__base__";

    /// <summary>The base weight (frozen while adapters train).</summary>
    public abstract Parameter BaseWeight { get; }

    /// <summary>The base weight's shape in its HF layout (also when it is stored quantised).</summary>
    public virtual long[] BaseShape => BaseWeight.shape;

    /// <summary>The dtype the base weight computes in (its own, or what a quantised base dequantises to).</summary>
    public virtual ScalarType BaseDtype => BaseWeight.dtype;

    /// <summary>Whether the base weight trains (never for a quantised base).</summary>
    public virtual bool BaseTrainable => BaseWeight.requires_grad;

    /// <summary>The base bias, or null.</summary>
    public abstract Parameter? BaseBias { get; }

    /// <summary>The module's path in its model, used in error messages (set by <see cref="LoraModel"/>).</summary>
    public string ModulePath { get; internal set; } = "(unnamed layer)";

    /// <summary>Adapters with LoRA factors on this layer, by name.</summary>
    public IReadOnlyDictionary<string, LoraAdapterSettings> Adapters =>
        Slots.Values.Where(s => s.HasFactors).ToDictionary(s => s.Name, s => s.Settings!, StringComparer.Ordinal);

    /// <summary>Adapters that hold a full copy of this layer (modules_to_save).</summary>
    public IReadOnlyList<string> SavedCopies => [.. Slots.Values.Where(s => s.HasCopy).Select(s => s.Name)];

    /// <summary>The adapters requested as active (those this layer does not host are ignored here).</summary>
    public IReadOnlyList<string> ActiveAdapters => _active;

    /// <summary>Adapters currently merged into the base weight, in merge order.</summary>
    public IReadOnlyList<string> MergedAdapters => _merged;

    /// <summary>When true only the base layer runs (merged adapters stay merged).</summary>
    public bool AdaptersDisabled
    {
        get => _disabled;
        set
        {
            _disabled = value;
            Refresh();
        }
    }

    /// <summary>Row routing of a mixed-adapter batch, set by <see cref="LoraModel.MixedBatch"/>.</summary>
    internal LoraBatchRouting? Routing { get; set; }

    /// <summary>Active, unmerged adapters with factors, in order: what the forward pass adds.</summary>
    private protected AdapterSlot[] LiveSlots { get; private set; } = [];

    /// <summary>The active, unmerged adapter whose saved copy replaces the base, or null.</summary>
    private protected AdapterSlot? LiveCopy { get; private set; }

    /// <summary>The bookkeeping of one adapter on this layer.</summary>
    internal AdapterSlot Slot(string adapter) => Slots[adapter];

    /// <summary>True when the layer hosts LoRA factors for <paramref name="adapter"/>.</summary>
    public bool HasAdapter(string adapter) => Slots.TryGetValue(adapter, out var s) && s.HasFactors;

    /// <summary>
    /// Adds LoRA factors for an adapter, initialised as <paramref name="init"/> says (random draws use
    /// <paramref name="generator"/> on the CPU, so a seed gives the same adapter on every device).
    /// Inactive until <see cref="SetActiveAdapters"/> names it.
    /// </summary>
    public void AddAdapter(string name, LoraAdapterSettings settings, LoraInitialization init = LoraInitialization.Default, Generator? generator = null)
    {
        ValidateAdapterName(name);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        if (HasAdapter(name))
        {
            throw new ArgumentException($"Adapter '{name}' already exists on {ModulePath}.", nameof(name));
        }
        RequireUnmerged("add an adapter");
        CreateFactors(name, settings, init, generator);
        SlotFor(name).Settings = settings;
        Refresh();
    }

    /// <summary>Adds a trainable full copy of this layer's current weight (and bias) for an adapter (modules_to_save).</summary>
    public void AddSavedCopy(string name)
    {
        ValidateAdapterName(name);
        var slot = SlotFor(name);
        if (slot.HasCopy)
        {
            throw new ArgumentException($"Adapter '{name}' already has a saved copy of {ModulePath}.", nameof(name));
        }
        CreateCopy(name);
        slot.HasCopy = true;
        Refresh();
    }

    /// <summary>Removes an adapter's factors and saved copy; it must not be merged.</summary>
    public void DeleteAdapter(string name)
    {
        if (!Slots.TryGetValue(name, out var slot))
        {
            return;
        }
        if (_merged.Contains(name))
        {
            throw new InvalidOperationException($"Adapter '{name}' is merged into {ModulePath}; unmerge before deleting it.");
        }
        if (slot.HasFactors)
        {
            RemoveFactors(name);
        }
        if (slot.HasCopy)
        {
            RemoveCopy(name);
        }
        slot.Dispose();
        Slots.Remove(name);
        _active = [.. _active.Where(a => a != name)];
        Refresh();
    }

    /// <summary>Chooses which adapters run, in order; names this layer does not host are ignored here.</summary>
    public void SetActiveAdapters(IEnumerable<string> names)
    {
        _active = [.. names];
        Refresh();
    }

    /// <summary>
    /// Adds adapters (default: the active ones) into the base weight: the delta is computed in fp32 and the
    /// result stored in the base dtype. With <paramref name="safe"/> the merged weight is checked for NaN/Inf
    /// before it replaces the base, and <see cref="UnsafeMergeException"/> is thrown instead.
    /// </summary>
    public void Merge(IEnumerable<string>? names = null, bool safe = false)
    {
        foreach (var name in names ?? _active)
        {
            if (_merged.Contains(name) || !Slots.TryGetValue(name, out var slot))
            {
                continue;
            }
            if (slot.HasCopy && _merged.Any(m => Slots[m].HasCopy))
            {
                throw new InvalidOperationException($"{ModulePath}: saved copies of two adapters cannot both be merged ('{name}', '{_merged.First(m => Slots[m].HasCopy)}').");
            }
            using (no_grad())
            {
                MergeSlot(slot, safe);
            }
            _merged.Add(name);
        }
        Refresh();
    }

    /// <summary>Subtracts every merged adapter from the base weight again (reverse order).</summary>
    public void Unmerge()
    {
        using (no_grad())
        {
            for (int i = _merged.Count - 1; i >= 0; i--)
            {
                var slot = Slots[_merged[i]];
                UnmergeSlot(slot);
                slot.ClearMergeState();
            }
        }
        _merged.Clear();
        Refresh();
    }

    /// <summary>Forgets merge bookkeeping without touching the weights: the merged adapters become part of the base.</summary>
    internal void CommitMerge()
    {
        foreach (var name in _merged)
        {
            Slots[name].ClearMergeState();
        }
        _merged.Clear();
        Refresh();
    }

    /// <summary>
    /// The change an adapter makes to the base weight, in fp32 and in the base weight's storage layout
    /// (for DoRA: m·(W+ΔW)/‖W+ΔW‖ − W).
    /// </summary>
    public abstract Tensor DeltaWeight(string adapter);

    /// <summary>
    /// The base weight with <paramref name="adapters"/> (or a saved copy among them) applied, in fp32 and
    /// storage layout, without changing the layer.
    /// </summary>
    public abstract Tensor MergedWeight(IEnumerable<string> adapters);

    /// <summary>The adapter's trainable parameters with their roles (factors, magnitude, saved copy).</summary>
    public abstract IEnumerable<(LoraParameterRole Role, Parameter Parameter)> AdapterParameters(string adapter);

    /// <summary>The adapter's A [r, in] and B [out, r] parameters (for embeddings, in = vocabulary).</summary>
    internal abstract (Parameter A, Parameter B) Factors(string adapter);

    /// <summary>
    /// Stores the base weight and bias (not the adapters, not saved copies) in <paramref name="dtype"/>: the frozen
    /// part of mixed-precision training. Adapters keep computing in their own dtype (fp32).
    /// </summary>
    internal void CastBaseWeights(ScalarType dtype)
    {
        RequireUnmerged("change the base weight's dtype");
        if (BaseDtype != dtype)
        {
            using (no_grad())
            {
                ReplaceBaseWeights(dtype);
            }
        }
    }

    /// <summary>Replaces the base weight (and bias) by converted copies, keeping their requires_grad.</summary>
    private protected abstract void ReplaceBaseWeights(ScalarType dtype);

    private protected abstract void CreateFactors(string name, LoraAdapterSettings settings, LoraInitialization init, Generator? generator);

    private protected abstract void RemoveFactors(string name);

    private protected abstract void CreateCopy(string name);

    private protected abstract void RemoveCopy(string name);

    private protected abstract void MergeSlot(AdapterSlot slot, bool safe);

    private protected abstract void UnmergeSlot(AdapterSlot slot);

    private protected void RequireUnmerged(string action)
    {
        if (_merged.Count > 0)
        {
            throw new InvalidOperationException($"{ModulePath} has merged adapters ({string.Join(", ", _merged)}); unmerge before you {action}.");
        }
    }

    private protected static void ThrowIfNotFinite(Tensor merged, string modulePath, string adapter)
    {
        if (!merged.isfinite().all().item<bool>())
        {
            throw new UnsafeMergeException(modulePath, adapter);
        }
    }

    private AdapterSlot SlotFor(string name)
    {
        if (!Slots.TryGetValue(name, out var slot))
        {
            slot = new AdapterSlot(name);
            Slots[name] = slot;
        }
        return slot;
    }

    private void Refresh()
    {
        if (_disabled)
        {
            LiveSlots = [];
            LiveCopy = null;
            return;
        }
        var live = _active.Where(a => !_merged.Contains(a) && Slots.ContainsKey(a)).Select(a => Slots[a]).ToList();
        LiveSlots = [.. live.Where(s => s.HasFactors)];
        LiveCopy = _merged.Any(m => Slots[m].HasCopy) ? null : live.FirstOrDefault(s => s.HasCopy);
    }

    private static void ValidateAdapterName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('.') || name == BaseAdapterName)
        {
            throw new ArgumentException($"Adapter name '{name}' is not allowed: names cannot contain '.' or be '{BaseAdapterName}'.", nameof(name));
        }
    }
}
