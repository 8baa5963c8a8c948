using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Adapters.Storage;
using Microsoft.ML.Lora.Tokenization;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.MLNet.Persistence;

/// <summary>
/// Gives a base model the structure a fine-tuned model has — task head and a named LoRA adapter whose
/// modules_to_save copy of the head is its own — the same way at training time and when a saved model is
/// loaded, so saved tensors find their places by name. Several adapters can live on one base.
/// </summary>
internal static class AdapterSetup
{
    /// <summary>Number of head outputs a task needs.</summary>
    public static int HeadOutputs(LoraTask task, int labels) => task switch
    {
        LoraTask.BinaryClassification => 2,
        LoraTask.MulticlassClassification => labels,
        LoraTask.Regression => 1,
        _ => 0,
    };

    /// <summary>A name no adapter on this base has yet: "default", then "default_2", ...</summary>
    public static string FreshAdapterName(LoraBaseModel baseModel)
    {
        var existing = baseModel.Lora.Adapters.Keys.ToHashSet(StringComparer.Ordinal);
        var name = "default";
        for (int i = 2; existing.Contains(name); i++)
        {
            name = $"default_{i}";
        }
        return name;
    }

    /// <summary>The LoRA config with the task's head saved per adapter (PEFT's modules_to_save for SEQ_CLS).</summary>
    public static LoraConfig ConfigFor(LoraConfig lora, LoraTask task, Models.PretrainedModel model)
    {
        var config = lora.Clone();
        if (HeadOutputs(task, 2) > 0)
        {
            config.TaskType = "SEQ_CLS";
            config.ModulesToSave = [.. (config.ModulesToSave ?? []).Concat(model.ClassificationHeadModules).Distinct(StringComparer.Ordinal)];
        }
        else
        {
            config.TaskType = "CAUSAL_LM";
        }
        return config;
    }

    /// <summary>Whether the base's task head (if any) has the outputs this adapter needs.</summary>
    public static bool HeadFits(LoraBaseModel baseModel, LoraModelManifest manifest)
    {
        int outputs = HeadOutputs(manifest.Task, manifest.Labels);
        return outputs == 0 || baseModel.Model.ClassificationLabels == 0 || baseModel.Model.ClassificationLabels == outputs;
    }

    /// <summary>
    /// Adds the head (when the base has none) and the manifest's adapter (none in the HeadOnly and Full modes), and makes
    /// that adapter active. With a
    /// seed, the head and the adapter draw from separate generators, so an adapter starts the same whether or not
    /// an earlier fit already created the head on a shared base.
    /// </summary>
    public static void Rebuild(LoraBaseModel baseModel, LoraModelManifest manifest, int? seed = null)
    {
        using var headGenerator = seed is { } s1 ? new Generator(unchecked((ulong)s1 * 0x9E3779B97F4A7C15UL + 1)) : null;
        using var adapterGenerator = seed is { } s2 ? new Generator((ulong)(uint)s2) : null;
        Rebuild(baseModel, manifest, headGenerator, adapterGenerator);
    }

    private static void Rebuild(LoraBaseModel baseModel, LoraModelManifest manifest, Generator? headGenerator, Generator? generator)
    {
        var model = baseModel.Model;
        int outputs = HeadOutputs(manifest.Task, manifest.Labels);
        if (outputs > 0)
        {
            if (model.ClassificationLabels == 0)
            {
                model.AddClassificationHead(outputs, headGenerator);
            }
            else if (model.ClassificationLabels != outputs)
            {
                throw new InvalidOperationException(
                    $"This base model already carries a {model.ClassificationLabels}-output head from an earlier fit; a {manifest.Task} adapter needs {outputs}. Load a separate LoraBaseModel for this task.");
            }
        }
        if (manifest.Mode == LoraFineTuneMode.Lora)
        {
            baseModel.Lora.AddAdapter(manifest.AdapterName, manifest.Lora, generator);
            baseModel.Lora.SetActiveAdapters(manifest.AdapterName);
        }
    }

    /// <summary>
    /// Stores the base's frozen weights in the manifest's precision (bf16: <see cref="MixedPrecision"/>); the adapter
    /// and head stay fp32. Applied after the adapter exists, when training and when loading, so a loaded model computes
    /// as the trained one did. A base shared with other adapters is converted for all of them.
    /// </summary>
    /// With a quantisation, the base's linear layers are quantised first (from their dense weights, deterministically)
    /// and the fingerprint of the packed bytes is returned; a manifest that records one must match it.
    public static string? ApplyPrecision(LoraBaseModel baseModel, LoraModelManifest manifest)
    {
        var dtype = manifest.Precision == LoraPrecision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var fingerprint = BaseQuantizer.Quantize(baseModel.Model, manifest.Quantization, dtype);
        if (manifest.QuantizedBaseFingerprint is { } expected && fingerprint != expected)
        {
            throw new InvalidDataException(
                $"The base model {manifest.Base.Path} quantised as {manifest.Quantization} gives packed weights with fingerprint {fingerprint}, not the {expected} the model was trained on: the base's weights differ from those it was trained over.");
        }
        if (manifest.Precision == LoraPrecision.BFloat16)
        {
            MixedPrecision.CastFrozenWeights(baseModel.Model, ScalarType.BFloat16);
        }
        return fingerprint;
    }

    /// <summary>The example encoder a manifest's settings describe.</summary>
    public static ExampleEncoder Encoder(TextTokenizer tokenizer, LoraModelManifest manifest) =>
        new(tokenizer, manifest.MaxSequenceLength, manifest.TruncationSide == TruncationSide.Left)
        {
            PairSeparator = manifest.PairSeparator,
            ResponseSeparator = manifest.ResponseSeparator,
            Conversational = manifest.MessagesColumn is not null,
            ChatTemplate = manifest.ChatTemplate,
        };
}
