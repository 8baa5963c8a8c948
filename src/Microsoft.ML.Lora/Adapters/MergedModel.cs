using Microsoft.ML.Lora.Checkpoints;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// The base model with the active adapters merged in, as a plain Hugging Face model (no LoRA tensors), built
/// without changing the <see cref="LoraModel"/>: what <c>mllora merge</c> writes.
/// </summary>
public static class MergedModel
{
    /// <summary>
    /// The model's state dict under HF names with the active adapters (and their modules_to_save copies) merged
    /// into the weights, in <paramref name="dtype"/> (default: each base tensor's own dtype). W0 + ΔW is summed in
    /// fp32 and cast once to the stored dtype, so an fp32 merge of a bf16 base keeps the adapter's full precision.
    /// A classifier's state dict is HF's <c>...ForSequenceClassification</c>'s: body and head, no LM head. The
    /// caller disposes the tensors (disposing never frees the live model's storage).
    /// </summary>
    public static Dictionary<string, Tensor> StateDict(LoraModel model, ScalarType? dtype = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = model.LoraLayers().ToList();
        var active = model.ActiveAdapters;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var _ = no_grad();
        foreach (var (key, value) in model.Model.state_dict())
        {
            // HF's sequence classifiers have no LM head (LlamaForSequenceClassification: model + score).
            if (PretrainedModelLoader.IsUnneededOutputHead(model.Model, key))
            {
                continue;
            }
            var owner = layers.FirstOrDefault(l => key.StartsWith(l.Path + ".", StringComparison.Ordinal));
            Tensor? tensor;
            if (owner.Layer is null)
            {
                tensor = value.detach();
            }
            else if (key == owner.Path + ".weight")
            {
                using var merged = owner.Layer.MergedWeight(active);
                // The one rounding: from the fp32 sum straight to the stored dtype.
                result[key] = merged.to(dtype ?? value.dtype);
                continue;
            }
            else if (key == owner.Path + ".bias")
            {
                tensor = (owner.Layer is AdaptableLinear linear ? linear.MergedBias(active) ?? value : value).detach();
            }
            else
            {
                continue; // adapter factors, magnitudes and saved copies are not part of the plain model
            }
            result[key] = dtype is { } d && tensor.is_floating_point() && tensor.dtype != d ? Convert(tensor, d) : tensor;
        }
        return result;
    }

    /// <summary>
    /// Writes the merged model as an HF folder: config.json (torch_dtype set; a classifier's HF
    /// <c>...ForSequenceClassification</c> class with num_labels, and id2label/label2id from
    /// <paramref name="labelNames"/> in head order) and model.safetensors (sharded above 5 GB).
    /// <paramref name="dtype"/> defaults to the base weights' dtype.
    /// </summary>
    public static void Save(LoraModel model, string folder, ScalarType? dtype = null, IReadOnlyList<string>? labelNames = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var weightsDtype = dtype ?? model.Model.parameters().First().dtype;
        var tensors = StateDict(model, weightsDtype);
        try
        {
            SafetensorsShardWriter.Write(folder, tensors, metadata: [new("format", "pt")]);
            HfModelWriter.WriteConfig(model.Model, folder, weightsDtype, labelNames);
        }
        finally
        {
            foreach (var t in tensors.Values)
            {
                t.Dispose();
            }
        }
    }

    private static Tensor Convert(Tensor tensor, ScalarType dtype)
    {
        using (tensor)
        {
            return tensor.to(dtype);
        }
    }
}
