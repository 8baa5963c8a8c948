using System.Text.Json;
using Microsoft.ML.Data;
using System.Text.Json.Nodes;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Tokenization;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// Hugging Face sequence-classification folders (config.json of a <c>...ForSequenceClassification</c> class, as
/// <c>mllora merge</c> and transformers' save_pretrained write them) as ML.NET transformers.
/// </summary>
public static class HfClassifierFolder
{
    /// <summary>
    /// Loads a sequence-classification folder as a transformer that scores (and saves) like a fine-tuned model:
    /// <c>num_labels</c> 1 → regression, 2 → binary (Boolean PredictedLabel + Probability; <see cref="LoraFineTuneTransformer.LabelNames"/>
    /// from id2label), more → multiclass (keys 1..N whose values are id2label's). Texts are truncated to the
    /// tokenizer's <c>model_max_length</c> on its <c>truncation_side</c> (tokenizer_config.json), else to 512 tokens
    /// or the model's positions. The model gets a fresh LoRA adapter on its architecture's default targets, whose B
    /// factors are zero: it scores exactly as the folder, and can be fine-tuned or saved as a zip referencing it.
    /// </summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="folder">The Hugging Face folder.</param>
    /// <param name="textColumnName">The input text column.</param>
    /// <param name="text2ColumnName">A second text column for sentence pairs, or null.</param>
    /// <param name="labelColumnName">The label column evaluators read.</param>
    /// <exception cref="InvalidDataException">The folder's config.json describes no sequence classifier.</exception>
    public static LoraFineTuneTransformer LoadSequenceClassifier(this ModelOperationsCatalog catalog, string folder,
        string textColumnName = "Text", string? text2ColumnName = null, string labelColumnName = "Label")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var env = catalog.GetEnvironment();
        var baseModel = LoraBaseModel.Load(folder);
        try
        {
            var model = baseModel.Model;
            int labels = model.ClassificationLabels;
            if (labels == 0)
            {
                throw new InvalidDataException(
                    $"'{folder}' is not a sequence-classification model: its config.json names no ...ForSequenceClassification architecture (a merged classifier from 'mllora merge' does).");
            }
            var task = labels switch { 1 => LoraTask.Regression, 2 => LoraTask.BinaryClassification, _ => LoraTask.MulticlassClassification };
            var names = LabelNames(model.Config, labels);
            var (maxLength, side) = TruncationOf(Path.Combine(folder, TokenizerFileNames.TokenizerConfig), model.Config.MaxPositions);
            var lora = new LoraConfig { TargetModules = [.. DefaultLoraTargets.For(model.Config.ModelType)] };
            var manifest = new LoraModelManifest
            {
                Task = task,
                TextColumn = textColumnName,
                Text2Column = text2ColumnName,
                LabelColumn = labelColumnName,
                Labels = task == LoraTask.MulticlassClassification ? labels : 0,
                LabelKeyValues = task == LoraTask.MulticlassClassification ? names : null,
                LabelNames = task == LoraTask.BinaryClassification ? names : null,
                Lora = AdapterSetup.ConfigFor(lora, task, model),
                AdapterName = AdapterSetup.FreshAdapterName(baseModel),
                Base = new BaseModelReference { Path = baseModel.Folder, Fingerprint = baseModel.Fingerprint, ModelType = model.Config.ModelType },
                MaxSequenceLength = maxLength,
                TruncationSide = side,
                ScoringBatchSize = 32,
                MaxNewTokens = 64,
                Device = "cpu",
            };
            // Default initialisation: B = 0, so the adapter adds exactly nothing; the head copy equals the folder's head.
            AdapterSetup.Rebuild(baseModel, manifest, seed: 0);
            return new LoraFineTuneTransformer(env, manifest, baseModel, ownsModel: true, encoder: null, training: null);
        }
        catch
        {
            baseModel.Dispose();
            throw;
        }
    }

    /// <summary>id2label's names in id order (HF's LABEL_i where it has none).</summary>
    private static string[] LabelNames(ModelConfig config, int labels)
    {
        var names = Enumerable.Range(0, labels).Select(i => $"LABEL_{i}").ToArray();
        if (config.ExtraFields?.TryGetValue("id2label", out var id2label) == true && id2label.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in id2label.EnumerateObject())
            {
                if (int.TryParse(entry.Name, out var id) && id >= 0 && id < labels && entry.Value.ValueKind == JsonValueKind.String)
                {
                    names[id] = entry.Value.GetString()!;
                }
            }
        }
        return names;
    }

    /// <summary>The tokenizer's model_max_length (capped by the model's positions) and truncation side.</summary>
    private static (int MaxLength, TruncationSide Side) TruncationOf(string tokenizerConfig, int maxPositions)
    {
        int fallback = Math.Min(512, maxPositions);
        if (!File.Exists(tokenizerConfig))
        {
            return (fallback, TruncationSide.Right);
        }
        var root = JsonNode.Parse(File.ReadAllText(tokenizerConfig)) as JsonObject;
        // HF writes a huge sentinel (1e30) for "no limit": anything past the model's positions means the model's limit.
        var length = root?["model_max_length"] is JsonValue v && v.TryGetValue<double>(out var d) && d >= 2 ? (int)Math.Min(d, maxPositions) : fallback;
        var side = root?["truncation_side"] is JsonValue s && s.TryGetValue<string>(out var text) && text == "left" ? TruncationSide.Left : TruncationSide.Right;
        return (length, side);
    }

    /// <summary>
    /// The tokenizer files of a merged classifier: <paramref name="files"/> with tokenizer_config.json's
    /// model_max_length and truncation_side set to what the model was trained with, so the folder tokenizes
    /// (truncates) its inputs as the zip did.
    /// </summary>
    internal static Dictionary<string, byte[]> WithTruncation(IReadOnlyDictionary<string, byte[]> files, int maxLength, TruncationSide side)
    {
        var result = files.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var config = result.TryGetValue(TokenizerFileNames.TokenizerConfig, out var bytes) ? JsonNode.Parse(bytes) as JsonObject ?? [] : [];
        config["model_max_length"] = maxLength;
        config["truncation_side"] = side == TruncationSide.Left ? "left" : "right";
        result[TokenizerFileNames.TokenizerConfig] = JsonSerializer.SerializeToUtf8Bytes(config, new JsonSerializerOptions { WriteIndented = true });
        return result;
    }
}
