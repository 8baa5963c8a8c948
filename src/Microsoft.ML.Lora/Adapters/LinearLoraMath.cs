using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// The arithmetic of <see cref="AdaptableLinear"/>'s adapters: the training forward (plain LoRA and DoRA),
/// mixed-adapter batches, and the weights merging produces. Weights here are seen as [out, in].
/// </summary>
internal static class LinearLoraMath
{
    /// <summary>
    /// y + Σ adapters for the live slots. Plain LoRA adds scale·B(A(x)) in place (two thin GEMMs, scale folded
    /// into add's alpha); with DoRA present adds happen out of place because DoRA needs the untouched base output.
    /// </summary>
    public static Tensor AddAdapters(AdaptableLinear layer, Tensor x, Tensor y, AdapterSlot[] live)
    {
        bool anyDora = false;
        foreach (var slot in live)
        {
            anyDora |= slot.Settings!.UseDora;
        }
        using var scope = NewDisposeScope();
        Tensor? converted = null;
        var result = y;
        foreach (var slot in live)
        {
            var input = InAdapterDtype(x, layer.LoraA(slot.Name).dtype, ref converted);
            var (value, alpha) = Contribution(layer, slot, input, baseWithoutBias: anyDora ? () => WithoutBias(layer, y) : null);
            var addend = value.dtype == y.dtype ? value : value.to(y.dtype);
            if (anyDora)
            {
                result = alpha is null ? result.add(addend) : result.add(addend, alpha);
            }
            else if (alpha is null)
            {
                result.add_(addend);
            }
            else
            {
                result.add_(addend, alpha);
            }
        }
        return ReferenceEquals(result, y) ? y : result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A mixed-adapter batch: the base runs on every row, then each adapter's contribution is computed on its
    /// own rows only (index_select) and added back to them (index_add); saved copies replace their rows' base output.
    /// </summary>
    public static Tensor MixedForward(AdaptableLinear layer, Tensor x, LoraBatchRouting routing)
    {
        if (layer.MergedAdapters.Count > 0)
        {
            throw new InvalidOperationException($"{layer.ModulePath}: a mixed-adapter batch cannot run while adapters are merged ({string.Join(", ", layer.MergedAdapters)}); unmerge first.");
        }
        var y = layer.BaseForward(x);
        if (layer.AdaptersDisabled)
        {
            return y;
        }
        routing.CheckBatch(x, layer.ModulePath);
        using var scope = NewDisposeScope();
        var result = y;
        foreach (var (name, rows) in routing.Groups)
        {
            bool hasFactors = layer.HasAdapter(name);
            bool hasCopy = layer.SavedCopies.Contains(name);
            if (!hasFactors && !hasCopy)
            {
                continue;
            }
            var xs = x.index_select(0, rows);
            if (hasCopy)
            {
                result = result.index_copy(0, rows, layer.Project(xs, layer.SavedCopy(name)).to(y.dtype));
            }
            if (hasFactors)
            {
                var slot = layer.Slot(name);
                var a = layer.LoraA(name);
                var input = xs.dtype == a.dtype ? xs : xs.to(a.dtype);
                var (value, alpha) = Contribution(layer, slot, input, () => nn.functional.linear(input, layer.AsOutIn(layer.weight).to(a.dtype)));
                var addend = value.dtype == y.dtype ? value : value.to(y.dtype);
                result = alpha is null ? result.index_add(0, rows, addend, 1.0) : result.index_add(0, rows, addend, alpha);
            }
        }
        return ReferenceEquals(result, y) ? y : result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One adapter's addition for input x (already in the adapter's dtype): for plain LoRA B(A(dropout(x)))
    /// with the scale returned separately; for DoRA (m/‖W+sBA‖ − 1)·base(x) + m/‖W+sBA‖·s·B(A(x)) with the
    /// norm detached, as PEFT computes it.
    /// </summary>
    private static (Tensor Value, Scalar? Alpha) Contribution(AdaptableLinear layer, AdapterSlot slot, Tensor x, Func<Tensor>? baseWithoutBias)
    {
        var settings = slot.Settings!;
        var dropped = layer.training && settings.Dropout > 0 ? nn.functional.dropout(x, settings.Dropout, training: true) : x;
        var loraOut = nn.functional.linear(nn.functional.linear(dropped, layer.LoraA(slot.Name)), layer.LoraB(slot.Name));
        if (!settings.UseDora)
        {
            return (loraOut, slot.ScaleScalar);
        }
        Tensor norm;
        using (no_grad())
        {
            norm = WeightNorm(layer, slot, layer.AsOutIn(layer.weight).to(x.dtype));
        }
        var scale = layer.Magnitude(slot.Name)!.to(x.dtype).div(norm);
        var baseOut = !ReferenceEquals(dropped, x) || baseWithoutBias is null
            ? nn.functional.linear(dropped, layer.AsOutIn(layer.weight).to(x.dtype))
            : baseWithoutBias().to(x.dtype);
        var value = baseOut.mul(scale.sub(1)).add_(loraOut.mul(scale), settings.Scale);
        return (value, null);
    }

    /// <summary>scale·B·A as [out, in] in fp32.</summary>
    public static Tensor ScaledProduct(AdaptableLinear layer, AdapterSlot slot)
    {
        using var a = layer.LoraA(slot.Name).to(ScalarType.Float32);
        using var b = layer.LoraB(slot.Name).to(ScalarType.Float32);
        return b.matmul(a).mul_(slot.Settings!.Scale);
    }

    /// <summary>
    /// The [out, in] fp32 weight after adding an adapter to <paramref name="current"/>: W + scale·B·A, or for
    /// DoRA m ⊙ (W + scale·B·A)/‖W + scale·B·A‖ together with the row factor m/‖·‖ needed to undo it.
    /// </summary>
    public static (Tensor Merged, Tensor? Factor) ApplyFactors(AdaptableLinear layer, AdapterSlot slot, Tensor current)
    {
        using var delta = ScaledProduct(layer, slot);
        var combined = current.add(delta);
        if (layer.Magnitude(slot.Name) is not { } magnitude)
        {
            return (combined, null);
        }
        using var norm = linalg.vector_norm(combined, dims: [1]);
        var factor = magnitude.detach().to(ScalarType.Float32).div(norm);
        return (combined.mul_(factor.unsqueeze(1)), factor);
    }

    /// <summary>‖W + scale·B·A‖ per output row: DoRA's initial magnitude.</summary>
    public static Tensor RowNorms(Tensor weightOutIn, Tensor a, Tensor b, double scale)
    {
        using var product = b.matmul(a);
        using var combined = weightOutIn.to(ScalarType.Float32).add(product, scale);
        return linalg.vector_norm(combined, dims: [1]);
    }

    private static Tensor WeightNorm(AdaptableLinear layer, AdapterSlot slot, Tensor weightOutIn)
    {
        using var product = layer.LoraB(slot.Name).to(weightOutIn.dtype).matmul(layer.LoraA(slot.Name).to(weightOutIn.dtype));
        using var combined = weightOutIn.add(product, slot.Settings!.Scale);
        return linalg.vector_norm(combined, dims: [1]);
    }

    // The adapter path runs in the adapter's dtype (fp32 even over a bf16 base); x is converted once per call.
    private static Tensor InAdapterDtype(Tensor x, ScalarType dtype, ref Tensor? converted)
    {
        if (x.dtype == dtype)
        {
            return x;
        }
        if (converted is null || converted.dtype != dtype)
        {
            converted = x.to(dtype);
        }
        return converted;
    }

    private static Tensor WithoutBias(AdaptableLinear layer, Tensor y) => layer.bias is null ? y : y.sub(layer.bias);
}
