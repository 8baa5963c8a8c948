using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// A token embedding (torch <c>nn.Embedding</c>, weight [vocab, dim]) that hosts LoRA adapters like PEFT's
/// <c>lora.Embedding</c>: y = W[ids] + scale·(Aᵀ[ids])·Bᵀ with <c>lora_embedding_A.{adapter}</c> [r, vocab] and
/// <c>lora_embedding_B.{adapter}</c> [dim, r]. DoRA, PiSSA and OLoRA are not supported on embeddings.
/// </summary>
public sealed class AdaptableEmbedding : LoraLayer
{
    /// <summary>The embedding table [vocab, dim].</summary>
    public Parameter weight;

    private AdapterParameters? lora_embedding_A;
    private AdapterParameters? lora_embedding_B;
    private AdapterModules<SavedModuleCopy>? modules_to_save;

    /// <summary>Creates an embedding initialised N(0, 1) like torch.nn.Embedding.</summary>
    public AdaptableEmbedding(long numEmbeddings, long embeddingDim, ScalarType dtype = ScalarType.Float32)
        : base(nameof(AdaptableEmbedding))
    {
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        weight = new Parameter(empty([numEmbeddings, embeddingDim], dtype));
        using (no_grad())
        {
            weight.normal_();
        }
        RegisterComponents();
    }

    /// <summary>Vocabulary size (rows).</summary>
    public long NumEmbeddings { get; }

    /// <summary>Embedding width.</summary>
    public long EmbeddingDim { get; }

    /// <inheritdoc />
    public override Parameter BaseWeight => weight;

    /// <inheritdoc />
    public override Parameter? BaseBias => null;

    /// <summary>lora_embedding_A [r, vocab] of an adapter.</summary>
    public Parameter LoraEmbeddingA(string adapter) => Lookup(lora_embedding_A, adapter);

    /// <summary>lora_embedding_B [dim, r] of an adapter.</summary>
    public Parameter LoraEmbeddingB(string adapter) => Lookup(lora_embedding_B, adapter);

    /// <summary>The saved full copy of the table for an adapter (modules_to_save).</summary>
    public Parameter SavedCopy(string adapter) =>
        modules_to_save is not null && modules_to_save.Contains(adapter) ? modules_to_save[adapter].weight : throw Missing(adapter);

    /// <inheritdoc />
    public override Tensor forward(Tensor ids)
    {
        if (Routing is { } routing)
        {
            return MixedForward(ids, routing);
        }
        var y = Gather(LiveCopy is { } copy ? SavedCopy(copy.Name) : weight, ids);
        var live = LiveSlots;
        if (live.Length == 0)
        {
            return y;
        }
        using var scope = NewDisposeScope();
        foreach (var slot in live)
        {
            var delta = LoraOutput(slot.Name, ids);
            y.add_(delta.dtype == y.dtype ? delta : delta.to(y.dtype), slot.ScaleScalar!);
        }
        return y;
    }

    /// <inheritdoc />
    public override Tensor DeltaWeight(string adapter)
    {
        using var _ = no_grad();
        return ScaledProduct(adapter).t().contiguous();
    }

    /// <inheritdoc />
    public override Tensor MergedWeight(IEnumerable<string> adapters)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var names = adapters.Where(a => !MergedAdapters.Contains(a) && Slots.ContainsKey(a)).ToList();
        var copy = names.FirstOrDefault(a => Slots[a].HasCopy);
        var current = (copy is null ? weight : SavedCopy(copy)).to(ScalarType.Float32);
        foreach (var name in names.Where(HasAdapter))
        {
            current = current.add(ScaledProduct(name).t());
        }
        return current.contiguous().MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override IEnumerable<(LoraParameterRole Role, Parameter Parameter)> AdapterParameters(string adapter)
    {
        if (HasAdapter(adapter))
        {
            yield return (LoraParameterRole.EmbeddingA, LoraEmbeddingA(adapter));
            yield return (LoraParameterRole.EmbeddingB, LoraEmbeddingB(adapter));
        }
        if (modules_to_save is not null && modules_to_save.Contains(adapter))
        {
            yield return (LoraParameterRole.SavedWeight, SavedCopy(adapter));
        }
    }

    internal override (Parameter A, Parameter B) Factors(string adapter) => (LoraEmbeddingA(adapter), LoraEmbeddingB(adapter));

    private protected override void ReplaceBaseWeights(ScalarType dtype)
    {
        var converted = new Parameter(weight.to(dtype), weight.requires_grad);
        weight.Dispose();
        weight = converted;
        ConditionallyRegisterParameter(nameof(weight), weight);
    }

    private protected override void CreateFactors(string name, LoraAdapterSettings settings, LoraInitialization init, Generator? generator)
    {
        if (settings.UseDora)
        {
            throw new NotSupportedException($"{ModulePath}: DoRA is not supported on embedding layers; leave the embedding out of target_modules or set use_dora to false.");
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (a, b, newBase) = LoraInitializer.ForEmbedding(init, settings, weight, generator, ModulePath);
        if (newBase is not null)
        {
            weight.copy_(newBase);
        }
        if (lora_embedding_A is null || lora_embedding_B is null)
        {
            lora_embedding_A = new AdapterParameters();
            lora_embedding_B = new AdapterParameters();
            register_module(nameof(lora_embedding_A), lora_embedding_A);
            register_module(nameof(lora_embedding_B), lora_embedding_B);
        }
        lora_embedding_A.Add(name, Owned(a));
        lora_embedding_B.Add(name, Owned(b));
    }

    private protected override void RemoveFactors(string name)
    {
        lora_embedding_A?.Remove(name);
        lora_embedding_B?.Remove(name);
    }

    private protected override void CreateCopy(string name)
    {
        using var scope = NewDisposeScope();
        if (modules_to_save is null)
        {
            modules_to_save = new AdapterModules<SavedModuleCopy>();
            register_module(nameof(modules_to_save), modules_to_save);
        }
        modules_to_save.Add(name, new SavedModuleCopy(weight.detach().clone(), null));
    }

    private protected override void RemoveCopy(string name) => modules_to_save?.Remove(name);

    private protected override void MergeSlot(AdapterSlot slot, bool safe)
    {
        using var scope = NewDisposeScope();
        var source = slot.HasCopy ? SavedCopy(slot.Name) : weight;
        var merged = slot.HasFactors ? source.to(ScalarType.Float32).add(ScaledProduct(slot.Name).t()) : null;
        if (safe)
        {
            ThrowIfNotFinite(merged ?? source, ModulePath, slot.Name);
        }
        if (slot.HasCopy)
        {
            slot.ReplacedBase = (weight.detach().clone().DetachFromDisposeScope(), null);
            weight.copy_(source);
        }
        if (merged is not null)
        {
            weight.copy_(merged);
        }
    }

    private protected override void UnmergeSlot(AdapterSlot slot)
    {
        using var scope = NewDisposeScope();
        if (slot.HasFactors)
        {
            weight.copy_(weight.to(ScalarType.Float32).sub(ScaledProduct(slot.Name).t()));
        }
        if (slot.ReplacedBase is { } replaced)
        {
            weight.copy_(replaced.Weight);
        }
    }

    private Tensor MixedForward(Tensor ids, LoraBatchRouting routing)
    {
        if (MergedAdapters.Count > 0)
        {
            throw new InvalidOperationException($"{ModulePath}: a mixed-adapter batch cannot run while adapters are merged; unmerge first.");
        }
        var y = Gather(weight, ids);
        if (AdaptersDisabled)
        {
            return y;
        }
        routing.CheckBatch(ids, ModulePath);
        using var scope = NewDisposeScope();
        var result = y;
        foreach (var (name, rows) in routing.Groups)
        {
            if (!Slots.TryGetValue(name, out var slot))
            {
                continue;
            }
            var rowIds = ids.index_select(0, rows);
            if (slot.HasCopy)
            {
                result = result.index_copy(0, rows, Gather(SavedCopy(name), rowIds).to(y.dtype));
            }
            if (slot.HasFactors)
            {
                result = result.index_add(0, rows, LoraOutput(name, rowIds).to(y.dtype), slot.ScaleScalar!);
            }
        }
        return ReferenceEquals(result, y) ? y : result.MoveToOuterDisposeScope();
    }

    // (Aᵀ[ids])·Bᵀ, unscaled, in the adapter's dtype.
    private Tensor LoraOutput(string adapter, Tensor ids)
    {
        var rows = Gather(LoraEmbeddingA(adapter).t(), ids);
        return nn.functional.linear(rows, LoraEmbeddingB(adapter));
    }

    // scale·B·A as [dim, vocab] in fp32.
    private Tensor ScaledProduct(string adapter)
    {
        using var a = LoraEmbeddingA(adapter).to(ScalarType.Float32);
        using var b = LoraEmbeddingB(adapter).to(ScalarType.Float32);
        return b.matmul(a).mul_(Slots[adapter].Settings!.Scale);
    }

    private static Parameter Owned(Tensor value)
    {
        var parameter = new Parameter(value);
        parameter.DetachFromDisposeScope();
        return parameter;
    }

    private static Tensor Gather(Tensor table, Tensor ids)
    {
        using var flat = ids.reshape(-1);
        using var rows = table.index_select(0, flat);
        return rows.reshape([.. ids.shape, table.shape[1]]);
    }

    private Parameter Lookup(AdapterParameters? container, string adapter) =>
        container is not null && container.Contains(adapter) ? container[adapter] : throw Missing(adapter);

    private KeyNotFoundException Missing(string adapter) =>
        new($"{ModulePath} has no adapter '{adapter}' (adapters here: {string.Join(", ", Slots.Keys)}).");
}
