using Microsoft.ML.Lora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>What loading weights into a model did.</summary>
/// <param name="Loaded">Model keys filled from the checkpoint.</param>
/// <param name="Missing">Model keys left as initialised (only when not strict).</param>
/// <param name="Unexpected">Checkpoint tensors not used (only when not strict).</param>
/// <param name="Ignored">Checkpoint tensors skipped because they are known to be unused (see <see cref="CheckpointKeyMatcher.IsKnownUnusedKey"/>).</param>
/// <param name="BasePrefixAdded">The model prefix the checkpoint's names lacked, if any (see <see cref="CheckpointKeyMatch"/>).</param>
public sealed record WeightLoadReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> Ignored,
    string? BasePrefixAdded);

/// <summary>
/// Loads a Hugging Face model folder (config.json + safetensors weights) into a <see cref="PretrainedModel"/>:
/// config → <see cref="ModelRegistry.Create"/> → every state-dict tensor filled by name from the checkpoint.
/// </summary>
public static class PretrainedModelLoader
{
    /// <summary>
    /// Loads a model folder. Weights take <paramref name="dtype"/> when given, else the config's
    /// <c>torch_dtype</c>, else float32; the model is placed on <paramref name="device"/> (default CPU) and put in
    /// evaluation mode. A folder saved from a <c>...ForSequenceClassification</c> class gets its classification
    /// head back (labels from <c>id2label</c>/<c>num_labels</c>); its output (LM) head may then be absent from the
    /// checkpoint and is left as initialised.
    /// </summary>
    /// <exception cref="InvalidModelConfigException">config.json is malformed or lacks a required field.</exception>
    /// <exception cref="UnsupportedModelTypeException">The model_type cannot be built.</exception>
    /// <exception cref="UnsupportedCheckpointFormatException">The folder holds only pickle weights.</exception>
    /// <exception cref="SafetensorsFormatException">A weights file is malformed or a shard is missing.</exception>
    /// <exception cref="CheckpointMismatchException">The weights do not fit the model (missing, unexpected or misshapen tensors).</exception>
    /// <exception cref="Runtime.NativeBackendUnavailableException">TorchSharp's native library cannot be loaded here.</exception>
    public static PretrainedModel Load(string folder, ScalarType? dtype = null, Device? device = null)
    {
        Runtime.TorchDevices.EnsureInitialized();
        var configPath = Path.Combine(Path.GetFullPath(folder), HfConfigFile.FileName);
        var config = HfConfigFile.Read(configPath);
        var weightsDtype = HfConfigFile.WeightsDtype(config, dtype, configPath);
        using var checkpoint = SafetensorsCheckpoint.Open(folder);
        var model = ModelRegistry.Create(config, configPath);
        try
        {
            int labels = HfConfigFile.SequenceClassificationLabels(config);
            if (labels > 0)
            {
                model.AddClassificationHead(labels);
            }
            model.to(weightsDtype);
            if (device is not null)
            {
                model.to(device);
            }
            LoadWeights(model, checkpoint, strict: true);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fills a model's state-dict tensors (parameters and buffers) from a checkpoint, converting dtype and device
    /// as needed. Every shape is checked before anything is copied. When <paramref name="strict"/>, a missing or
    /// unexpected key is a <see cref="CheckpointMismatchException"/>; otherwise they are returned in the report.
    /// A shape mismatch always throws. A model with a classification head tolerates a missing output (LM) head,
    /// as HF's sequence-classification checkpoints have none.
    /// </summary>
    public static WeightLoadReport LoadWeights(PretrainedModel model, SafetensorsCheckpoint checkpoint, bool strict = true)
    {
        var state = model.state_dict();
        var match = CheckpointKeyMatcher.Match(state.Keys, checkpoint.Entries.Select(e => e.Name), CheckpointKeyContext.Of(model));
        var shapeMismatches = match.CheckpointKeyOf
            .Where(kv => !checkpoint.Entry(kv.Value).Shape.SequenceEqual(state[kv.Key].shape))
            .Select(kv => $"{kv.Value}: checkpoint [{string.Join(", ", checkpoint.Entry(kv.Value).Shape)}] vs model [{string.Join(", ", state[kv.Key].shape)}]")
            .ToList();
        var intolerable = match.Missing.Where(k => !IsUnneededOutputHead(model, k)).ToList();
        if (shapeMismatches.Count > 0 || (strict && (intolerable.Count > 0 || match.Unexpected.Count > 0)))
        {
            throw new CheckpointMismatchException(checkpoint.SourcePath, intolerable, match.Unexpected, shapeMismatches);
        }
        using (no_grad())
        {
            foreach (var (modelKey, checkpointKey) in match.CheckpointKeyOf)
            {
                checkpoint.ReadInto(checkpointKey, state[modelKey]);
            }
        }
        return new WeightLoadReport([.. match.CheckpointKeyOf.Keys], match.Missing, match.Unexpected, match.Ignored, match.BasePrefixAdded);
    }

    // A sequence classifier saved by HF has no LM head (LlamaForSequenceClassification has only "score"), so a
    // model given a classification head may lack its LM head's weights; encoders' output head is the classifier itself.
    internal static bool IsUnneededOutputHead(PretrainedModel model, string key) =>
        model.ClassificationLabels > 0
        && !model.ClassificationHeadModules.Contains(model.OutputHeadModule)
        && key.StartsWith(model.OutputHeadModule + ".", StringComparison.Ordinal);
}
