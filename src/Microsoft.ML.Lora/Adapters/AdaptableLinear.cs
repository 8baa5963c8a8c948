using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// A linear layer (torch <c>nn.Linear</c>, or GPT-2's <c>Conv1D</c> when <see cref="FanInFanOut"/>) that
/// hosts LoRA adapters by name like PEFT's <c>lora.Linear</c>: y = base(x) + Σ_active scale·B(A(dropout(x))),
/// two thin GEMMs in the adapter's dtype (fp32) added in the output dtype; B·A is never materialised for plain
/// LoRA. Parameter names follow PEFT's in-memory layout: <c>weight</c>, <c>bias</c>,
/// <c>lora_A.{adapter}.weight</c> [r, in], <c>lora_B.{adapter}.weight</c> [out, r],
/// <c>lora_magnitude_vector.{adapter}.weight</c> [out] (DoRA), <c>modules_to_save.{adapter}.weight</c>.
/// </summary>
public sealed class AdaptableLinear : LoraLayer
{
    /// <summary>The base weight: [out, in], or [in, out] when <see cref="FanInFanOut"/> (Conv1D).</summary>
    public Parameter weight;

    /// <summary>The base bias [out], or null.</summary>
    public Parameter? bias;

    private AdapterModules<LoraWeight>? lora_A;
    private AdapterModules<LoraWeight>? lora_B;
    private AdapterModules<LoraWeight>? lora_magnitude_vector;
    private AdapterModules<SavedModuleCopy>? modules_to_save;

    /// <summary>Creates a layer with kaiming-uniform weights (they are usually loaded or re-initialised by the model).</summary>
    public AdaptableLinear(long inFeatures, long outFeatures, bool hasBias, bool fanInFanOut = false, ScalarType dtype = ScalarType.Float32)
        : base(nameof(AdaptableLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        FanInFanOut = fanInFanOut;
        long[] shape = fanInFanOut ? [inFeatures, outFeatures] : [outFeatures, inFeatures];
        weight = new Parameter(empty(shape, dtype));
        bias = hasBias ? new Parameter(zeros(outFeatures, dtype)) : null;
        ResetParameters();
        RegisterComponents();
    }

    /// <summary>Input width.</summary>
    public long InFeatures { get; }

    /// <summary>Output width.</summary>
    public long OutFeatures { get; }

    /// <summary>True for GPT-2's Conv1D, whose weight is stored [in, out] (PEFT's fan_in_fan_out).</summary>
    public bool FanInFanOut { get; }

    /// <inheritdoc />
    public override Parameter BaseWeight => weight;

    /// <inheritdoc />
    public override Parameter? BaseBias => bias;

    /// <summary>Kaiming-uniform weight and uniform bias, like torch.nn.Linear.</summary>
    public void ResetParameters()
    {
        using var _ = no_grad();
        // kaiming_uniform_(a=√5) on [out, in] gives U(−1/√in, 1/√in).
        var bound = 1.0 / Math.Sqrt(InFeatures);
        weight.uniform_(-bound, bound);
        bias?.uniform_(-bound, bound);
    }

    /// <summary>The A factor [r, in] of an adapter.</summary>
    public Parameter LoraA(string adapter) => Lookup(lora_A, adapter, "LoRA factors").weight;

    /// <summary>The B factor [out, r] of an adapter.</summary>
    public Parameter LoraB(string adapter) => Lookup(lora_B, adapter, "LoRA factors").weight;

    /// <summary>DoRA's magnitude vector [out] of an adapter, or null when the adapter does not use DoRA.</summary>
    public Parameter? Magnitude(string adapter) =>
        lora_magnitude_vector is not null && lora_magnitude_vector.Contains(adapter) ? lora_magnitude_vector[adapter].weight : null;

    /// <summary>The saved full copy (weight, bias) of this layer for an adapter (modules_to_save).</summary>
    public (Parameter Weight, Parameter? Bias) SavedCopy(string adapter)
    {
        var copy = Lookup(modules_to_save, adapter, "a saved copy");
        return (copy.weight, copy.bias);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        if (Routing is { } routing)
        {
            return LinearLoraMath.MixedForward(this, x, routing);
        }
        var y = LiveCopy is { } copy ? Project(x, SavedCopy(copy.Name)) : BaseForward(x);
        var live = LiveSlots;
        return live.Length == 0 ? y : LinearLoraMath.AddAdapters(this, x, y, live);
    }

    /// <summary>The base layer alone: x·Wᵀ + b (or x·W + b for Conv1D).</summary>
    public Tensor BaseForward(Tensor x) => Project(x, (weight, bias));

    /// <summary>x through a weight of this layer's layout (the base or a saved copy).</summary>
    internal Tensor Project(Tensor x, (Parameter Weight, Parameter? Bias) layer)
    {
        if (!FanInFanOut)
        {
            return nn.functional.linear(x, layer.Weight, layer.Bias);
        }
        if (layer.Bias is null)
        {
            return x.matmul(layer.Weight);
        }
        using var flat = x.reshape(-1, InFeatures);
        using var product = addmm(layer.Bias, flat, layer.Weight, 1, 1);
        return product.reshape([.. x.shape[..^1], OutFeatures]);
    }

    /// <summary>A weight of this layer's storage layout seen as [out, in].</summary>
    internal Tensor AsOutIn(Tensor stored) => FanInFanOut ? stored.t() : stored;

    /// <inheritdoc />
    public override Tensor DeltaWeight(string adapter)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var slot = Slots.TryGetValue(adapter, out var s) && s.HasFactors ? s : throw MissingAdapter(adapter, "LoRA factors");
        var current = AsOutIn(weight).to(ScalarType.Float32);
        var (merged, _) = LinearLoraMath.ApplyFactors(this, slot, current);
        return AsOutIn(merged.sub(current)).contiguous().MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override Tensor MergedWeight(IEnumerable<string> adapters)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var slots = adapters.Where(a => !MergedAdapters.Contains(a) && Slots.ContainsKey(a)).Select(a => Slots[a]).ToList();
        var copy = slots.FirstOrDefault(s => s.HasCopy);
        var current = AsOutIn(copy is null ? weight : SavedCopy(copy.Name).Weight).to(ScalarType.Float32);
        foreach (var slot in slots.Where(s => s.HasFactors))
        {
            current = LinearLoraMath.ApplyFactors(this, slot, current).Merged;
        }
        return AsOutIn(current).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The bias with <paramref name="adapters"/> applied (a saved copy's bias when one of them has one).</summary>
    internal Tensor? MergedBias(IEnumerable<string> adapters)
    {
        var copy = adapters.Where(a => !MergedAdapters.Contains(a) && Slots.TryGetValue(a, out var s) && s.HasCopy).FirstOrDefault();
        return copy is null ? bias : SavedCopy(copy).Bias;
    }

    /// <inheritdoc />
    public override IEnumerable<(LoraParameterRole Role, Parameter Parameter)> AdapterParameters(string adapter)
    {
        if (HasAdapter(adapter))
        {
            yield return (LoraParameterRole.A, LoraA(adapter));
            yield return (LoraParameterRole.B, LoraB(adapter));
            if (Magnitude(adapter) is { } magnitude)
            {
                yield return (LoraParameterRole.Magnitude, magnitude);
            }
        }
        if (modules_to_save is not null && modules_to_save.Contains(adapter))
        {
            var (w, b) = SavedCopy(adapter);
            yield return (LoraParameterRole.SavedWeight, w);
            if (b is not null)
            {
                yield return (LoraParameterRole.SavedBias, b);
            }
        }
    }

    internal override (Parameter A, Parameter B) Factors(string adapter) => (LoraA(adapter), LoraB(adapter));

    private protected override void ReplaceBaseWeights(ScalarType dtype)
    {
        var converted = new Parameter(weight.to(dtype), weight.requires_grad);
        weight.Dispose();
        weight = converted;
        ConditionallyRegisterParameter(nameof(weight), weight);
        if (bias is not null)
        {
            var convertedBias = new Parameter(bias.to(dtype), bias.requires_grad);
            bias.Dispose();
            bias = convertedBias;
            ConditionallyRegisterParameter(nameof(bias), bias);
        }
    }

    private protected override void CreateFactors(string name, LoraAdapterSettings settings, LoraInitialization init, Generator? generator)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (a, b, newBase) = LoraInitializer.ForLinear(init, settings, AsOutIn(weight), generator, ModulePath);
        if (newBase is not null)
        {
            weight.copy_(AsOutIn(newBase));
        }
        if (lora_A is null || lora_B is null)
        {
            lora_A = new AdapterModules<LoraWeight>();
            lora_B = new AdapterModules<LoraWeight>();
            register_module(nameof(lora_A), lora_A);
            register_module(nameof(lora_B), lora_B);
        }
        Tensor? magnitude = settings.UseDora ? LinearLoraMath.RowNorms(AsOutIn(weight), a, b, settings.Scale) : null;
        lora_A.Add(name, new LoraWeight(a));
        lora_B.Add(name, new LoraWeight(b));
        if (magnitude is not null)
        {
            if (lora_magnitude_vector is null)
            {
                lora_magnitude_vector = new AdapterModules<LoraWeight>();
                register_module(nameof(lora_magnitude_vector), lora_magnitude_vector);
            }
            lora_magnitude_vector.Add(name, new LoraWeight(magnitude));
        }
    }

    private protected override void RemoveFactors(string name)
    {
        lora_A?.Remove(name);
        lora_B?.Remove(name);
        lora_magnitude_vector?.Remove(name);
    }

    private protected override void CreateCopy(string name)
    {
        using var scope = NewDisposeScope();
        if (modules_to_save is null)
        {
            modules_to_save = new AdapterModules<SavedModuleCopy>();
            register_module(nameof(modules_to_save), modules_to_save);
        }
        modules_to_save.Add(name, new SavedModuleCopy(weight.detach().clone(), bias?.detach().clone()));
    }

    private protected override void RemoveCopy(string name) => modules_to_save?.Remove(name);

    private protected override void MergeSlot(AdapterSlot slot, bool safe)
    {
        using var scope = NewDisposeScope();
        (Parameter Weight, Parameter? Bias) source = slot.HasCopy ? SavedCopy(slot.Name) : (weight, bias);
        Tensor? merged = null, factor = null;
        if (slot.HasFactors)
        {
            (merged, factor) = LinearLoraMath.ApplyFactors(this, slot, AsOutIn(source.Weight).to(ScalarType.Float32));
        }
        if (safe)
        {
            ThrowIfNotFinite(merged ?? source.Weight, ModulePath, slot.Name);
        }
        if (slot.HasCopy)
        {
            slot.ReplacedBase = (weight.detach().clone().DetachFromDisposeScope(), bias?.detach().clone().DetachFromDisposeScope());
            weight.copy_(source.Weight);
            bias?.copy_(source.Bias!);
        }
        if (merged is not null)
        {
            weight.copy_(AsOutIn(merged));
            slot.DoraFactor = factor?.DetachFromDisposeScope();
        }
    }

    private protected override void UnmergeSlot(AdapterSlot slot)
    {
        using var scope = NewDisposeScope();
        if (slot.HasFactors)
        {
            var merged = AsOutIn(weight).to(ScalarType.Float32);
            var delta = LinearLoraMath.ScaledProduct(this, slot);
            // The factor was captured at merge time; the model may have moved device since.
            var restored = slot.DoraFactor is { } factor ? merged.div(factor.to(merged.device).unsqueeze(1)).sub_(delta) : merged.sub(delta);
            weight.copy_(AsOutIn(restored));
        }
        if (slot.ReplacedBase is { } replaced)
        {
            weight.copy_(replaced.Weight);   // copy_ also crosses devices
            bias?.copy_(replaced.Bias!);
        }
    }

    private T Lookup<T>(AdapterModules<T>? container, string adapter, string what) where T : nn.Module =>
        container is not null && container.Contains(adapter) ? container[adapter] : throw MissingAdapter(adapter, what);

    private KeyNotFoundException MissingAdapter(string adapter, string what) =>
        new($"{ModulePath} has no {what} for adapter '{adapter}' (adapters here: {string.Join(", ", Slots.Keys)}).");
}
