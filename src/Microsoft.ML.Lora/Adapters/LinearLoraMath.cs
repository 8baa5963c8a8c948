using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// The arithmetic of <see cref="AdaptableLinear"/>'s adapters: the training forward (plain LoRA and DoRA),
/// mixed-adapter batches, and the weights merging produces. Weights here are seen as [out, in].
/// </summary>
internal static class LinearLoraMath
{
    /// <summary>
    /// y + Σ adapters for the live slots when DoRA is among them (plain LoRA goes through <see cref="ForwardLowRank"/>):
    /// the additions happen out of place because DoRA needs the untouched base output.
    /// </summary>
    public static Tensor AddAdapters(AdaptableLinear layer, Tensor x, Tensor y, AdapterSlot[] live)
    {
        using var scope = NewDisposeScope();
        Tensor? converted = null;
        var result = y;
        foreach (var slot in live)
        {
            var input = InAdapterDtype(x, layer.LoraA(slot.Name).dtype, ref converted);
            var (value, alpha) = Contribution(layer, slot, input, baseWithoutBias: () => WithoutBias(layer, y));
            var addend = value.dtype == y.dtype ? value : value.to(y.dtype);
            result = alpha is null ? result.add(addend) : result.add(addend, alpha);
        }
        return ReferenceEquals(result, y) ? y : result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Plain LoRA (no DoRA among <paramref name="live"/>): base(x) + Σ scale·B(A(dropout(x))), with the base computed
    /// on x seen as [tokens, in] and the adapters added to it in place. The two thin products are laid out so that
    /// autograd's backward products also run in the BLAS's fast layouts — the [tokens, r] intermediate is
    /// column-major (A·xᵀ transposed) and the second factor a row-major [r, out] copy of Bᵀ: measured 22% faster
    /// forward+backward than two nn.functional.linear calls at rank 8 (docs/performance.md). An adapter of the base
    /// output's dtype accumulates through addmm_ (no [tokens, out] temporary); over a bf16 base the fp32 product is
    /// added with type promotion, rounding once, as PEFT's fp32 add followed by a cast does. Inside an
    /// <see cref="AdapterAutocast"/> scope a bf16 base's adapters compute in bf16 instead.
    /// </summary>
    public static Tensor ForwardLowRank(AdaptableLinear layer, Tensor x, (Parameter Weight, Parameter? Bias)? copy, AdapterSlot[] live)
    {
        long tokens = x.numel() / layer.InFeatures;
        using var scope = NewDisposeScope();
        var flat = x.reshape(tokens, layer.InFeatures);
        var y = layer.ProjectCopyOrBase(flat, copy);
        Tensor? converted = null;
        foreach (var slot in live)
        {
            var a = layer.LoraA(slot.Name);
            var dtype = AdapterAutocast.ComputeDtype(flat.dtype, a.dtype);
            var input = InAdapterDtype(flat, dtype, ref converted);
            var dropout = slot.Settings!.Dropout;
            var dropped = layer.training && dropout > 0 ? nn.functional.dropout(input, dropout, training: true) : input;
            var down = InDtype(a, dtype).mm(dropped.t()).t();                          // [tokens, r], column-major
            var upTransposed = InDtype(layer.LoraB(slot.Name), dtype).t().contiguous();   // [r, out], row-major
            if (y.dtype == down.dtype)
            {
                y.addmm_(down, upTransposed, beta: 1, alpha: (float)slot.Settings.Scale);
            }
            else
            {
                y.add_(down.mm(upTransposed), slot.ScaleScalar!);
            }
        }
        return y.view([.. x.shape[..^1], layer.OutFeatures]).MoveToOuterDisposeScope();
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
                var (value, alpha) = Contribution(layer, slot, input, () => nn.functional.linear(input, layer.BaseOutIn(a.dtype)));
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
            norm = WeightNorm(layer, slot, layer.BaseOutIn(x.dtype));
        }
        var scale = layer.Magnitude(slot.Name)!.to(x.dtype).div(norm);
        var baseOut = !ReferenceEquals(dropped, x) || baseWithoutBias is null
            ? nn.functional.linear(dropped, layer.BaseOutIn(x.dtype))
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

    private static Tensor InDtype(Tensor t, ScalarType dtype) => t.dtype == dtype ? t : t.to(dtype);

    private static Tensor WithoutBias(AdaptableLinear layer, Tensor y) => layer.bias is null ? y : y.sub(layer.bias);
}
