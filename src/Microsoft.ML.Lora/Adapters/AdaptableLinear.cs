using Microsoft.ML.Lora.Adapters.Storage;
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
/// The frozen base weight is a <see cref="FrozenWeight"/> (<see cref="Storage"/>): the dense <c>weight</c> Parameter,
/// or after <see cref="Quantize"/> packed NF4/int8 codes that are not Parameters (the <c>weight</c> key then leaves the
/// state dict, and <see cref="BaseWeight"/> throws).
/// </summary>
public sealed class AdaptableLinear : LoraLayer
{
    /// <summary>The base weight: [out, in], or [in, out] when <see cref="FanInFanOut"/> (Conv1D).</summary>
    public Parameter weight;

    /// <summary>The base bias [out], or null.</summary>
    public Parameter? bias;

    private QuantizedWeight? _quantized;
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
    public override Parameter BaseWeight => _quantized is null ? weight
        : throw new QuantizedBaseException($"{ModulePath}: the base weight is stored as {_quantized.Quantization}, not as a Parameter; use Storage (Dequantize for a dense copy).");

    /// <summary>How the frozen base weight is stored: the dense Parameter, or its quantised codes.</summary>
    public FrozenWeight Storage => _quantized ?? (FrozenWeight)new DenseWeight(weight, FanInFanOut);

    /// <inheritdoc />
    public override long[] BaseShape => _quantized is null ? weight.shape : FanInFanOut ? [InFeatures, OutFeatures] : [OutFeatures, InFeatures];

    /// <inheritdoc />
    public override ScalarType BaseDtype => _quantized?.ComputeDtype ?? weight.dtype;

    /// <inheritdoc />
    public override bool BaseTrainable => _quantized is null && weight.requires_grad;

    /// <summary>
    /// Replaces the dense base weight by <paramref name="quantization"/>'s packed storage (computing in
    /// <paramref name="computeDtype"/>) and drops the Parameter. The bias stays dense. Only a frozen, unmerged dense
    /// base can be quantised: quantising an already quantised base, a trainable one, or one with merged adapters
    /// throws <see cref="QuantizedBaseException"/>.
    /// </summary>
    public void Quantize(FrozenWeightQuantization quantization, ScalarType computeDtype)
    {
        if (_quantized is not null)
        {
            throw new QuantizedBaseException($"{ModulePath}: the base is already quantised ({_quantized.Quantization}); quantise the dense base once.");
        }
        if (weight.requires_grad || MergedAdapters.Count > 0)
        {
            throw new QuantizedBaseException($"{ModulePath}: only a frozen base without merged adapters can be quantised.");
        }
        if (quantization == FrozenWeightQuantization.None)
        {
            return;
        }
        using (no_grad())
        {
            using var outIn = FanInFanOut ? weight.t() : weight.alias();
            _quantized = QuantizedWeight.Create(quantization, outIn, computeDtype);
        }
        ConditionallyRegisterParameter(nameof(weight), (Parameter?)null);
        weight.Dispose();
        weight = new Parameter(empty(0, computeDtype), requires_grad: false);
    }

    /// <summary>The base weight as [out, in] in <paramref name="dtype"/> (dequantised when quantised); do not modify it.</summary>
    internal Tensor BaseOutIn(ScalarType dtype) => _quantized?.Dequantize(dtype) ?? AsOutIn(weight).to(dtype);

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
        (Parameter, Parameter?)? weights = LiveCopy is { } copy ? SavedCopy(copy.Name) : null;
        var live = LiveSlots;
        if (live.Length == 0)
        {
            return ProjectCopyOrBase(x, weights);
        }
        return live.Any(s => s.Settings!.UseDora)
            ? LinearLoraMath.AddAdapters(this, x, ProjectCopyOrBase(x, weights), live)
            : LinearLoraMath.ForwardLowRank(this, x, weights, live);
    }

    /// <summary>
    /// The [out, in] weight when this layer currently computes exactly x·Wᵀ (no bias, no adapter or saved copy
    /// applied, not Conv1D-oriented, not routing a mixed batch), so a caller may fuse that product with what follows; else null.
    /// </summary>
    internal Parameter? PlainWeight =>
        LiveSlots.Length == 0 && LiveCopy is null && Routing is null && !FanInFanOut && bias is null && _quantized is null ? weight : null;

    /// <summary>The base layer alone: x·Wᵀ + b (or x·W + b for Conv1D).</summary>
    public Tensor BaseForward(Tensor x) => ProjectCopyOrBase(x, null);

    /// <summary>x through a saved copy, or through the base storage when <paramref name="copy"/> is null.</summary>
    internal Tensor ProjectCopyOrBase(Tensor x, (Parameter Weight, Parameter? Bias)? copy)
    {
        if (copy is { } dense || _quantized is null)
        {
            return Project(x, copy ?? (weight, bias));
        }
        var product = _quantized.Product(x);
        return bias is null ? product : product.add_(bias);
    }

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
        var current = BaseOutIn(ScalarType.Float32);
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
        var current = copy is null ? BaseOutIn(ScalarType.Float32) : AsOutIn(SavedCopy(copy.Name).Weight).to(ScalarType.Float32);
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
        if (_quantized is not null)
        {
            _quantized.ComputeIn(dtype);
            ReplaceBias(dtype);
            return;
        }
        var converted = new Parameter(weight.to(dtype), weight.requires_grad);
        weight.Dispose();
        weight = converted;
        ConditionallyRegisterParameter(nameof(weight), weight);
        ReplaceBias(dtype);
    }

    private void ReplaceBias(ScalarType dtype)
    {
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
        var baseOutIn = _quantized is null ? AsOutIn(weight) : _quantized.Dequantize(ScalarType.Float32);
        var (a, b, newBase) = LoraInitializer.ForLinear(init, settings, baseOutIn, generator, ModulePath);
        if (newBase is not null)
        {
            if (_quantized is not null)
            {
                throw new QuantizedBaseException($"{ModulePath}: {init} changes the base weight, which is quantised here; initialise such adapters before quantising.");
            }
            weight.copy_(AsOutIn(newBase));
        }
        if (lora_A is null || lora_B is null)
        {
            lora_A = new AdapterModules<LoraWeight>();
            lora_B = new AdapterModules<LoraWeight>();
            register_module(nameof(lora_A), lora_A);
            register_module(nameof(lora_B), lora_B);
        }
        Tensor? magnitude = settings.UseDora ? LinearLoraMath.RowNorms(baseOutIn, a, b, settings.Scale) : null;
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
        var copy = _quantized is null ? weight.detach().clone() : AsOutIn(_quantized.Dequantize(_quantized.ComputeDtype)).contiguous();
        modules_to_save.Add(name, new SavedModuleCopy(copy, bias?.detach().clone()));
    }

    private protected override void RemoveCopy(string name) => modules_to_save?.Remove(name);

    private protected override void MergeSlot(AdapterSlot slot, bool safe)
    {
        if (_quantized is not null)
        {
            throw new QuantizedBaseException(
                $"{ModulePath}: adapter '{slot.Name}' cannot be merged into a {_quantized.Quantization} base in place; export a merged model instead (it merges into the dequantised weights and writes them dense).");
        }
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

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _quantized?.Dispose();
            _quantized = null;
        }
        base.Dispose(disposing);
    }

    private T Lookup<T>(AdapterModules<T>? container, string adapter, string what) where T : nn.Module =>
        container is not null && container.Contains(adapter) ? container[adapter] : throw MissingAdapter(adapter, what);

    private KeyNotFoundException MissingAdapter(string adapter, string what) =>
        new($"{ModulePath} has no {what} for adapter '{adapter}' (adapters here: {string.Join(", ", Slots.Keys)}).");
}
