using Microsoft.ML.Lora.Models;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// Saves a model as a Hugging Face folder that HF tools (and <see cref="PretrainedModelLoader"/>) load:
/// <c>config.json</c> (the config's HF keys, <c>torch_dtype</c> and <c>architectures</c> set), the weights as
/// <c>model.safetensors</c> or shards with <c>model.safetensors.index.json</c>, and tokenizer files copied.
/// </summary>
public static class HfModelWriter
{
    /// <summary>Tokenizer and generation files HF keeps beside a model, copied by <see cref="TokenizerFilesIn"/>.</summary>
    public static IReadOnlyList<string> TokenizerFileNames { get; } =
    [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json",
        "merges.txt", "vocab.txt", "tokenizer.model", "generation_config.json",
    ];

    private static readonly Dictionary<string, (string CausalLm, string SequenceClassification)> Architectures = new(StringComparer.Ordinal)
    {
        ["llama"] = ("LlamaForCausalLM", "LlamaForSequenceClassification"),
        ["qwen2"] = ("Qwen2ForCausalLM", "Qwen2ForSequenceClassification"),
        ["mistral"] = ("MistralForCausalLM", "MistralForSequenceClassification"),
        ["gpt2"] = ("GPT2LMHeadModel", "GPT2ForSequenceClassification"),
        ["bert"] = ("BertForMaskedLM", "BertForSequenceClassification"),
        ["roberta"] = ("RobertaForMaskedLM", "RobertaForSequenceClassification"),
        ["distilbert"] = ("DistilBertForMaskedLM", "DistilBertForSequenceClassification"),
    };

    /// <summary>The tokenizer files (<see cref="TokenizerFileNames"/>) present in a folder.</summary>
    public static IReadOnlyList<string> TokenizerFilesIn(string folder) =>
        [.. TokenizerFileNames.Select(name => Path.Combine(folder, name)).Where(File.Exists)];

    /// <summary>
    /// Writes the model. Floating-point weights are stored in <paramref name="dtype"/> (default: as they are);
    /// integer buffers keep their type. Weights tied to the token embedding are written once, as HF does.
    /// LoRA adapter tensors (<c>lora_A</c>/<c>lora_B</c>) are not part of a base checkpoint and are left out:
    /// merge them into the base weights first, or save them as a PEFT adapter.
    /// </summary>
    /// <param name="model">The model to save.</param>
    /// <param name="folder">The output folder (created if needed).</param>
    /// <param name="dtype">Weight type to store, or null to keep the model's.</param>
    /// <param name="maxShardBytes">Shard above this size (HF's default 5 GB).</param>
    /// <param name="extraFiles">Files copied into the folder as they are, typically <see cref="TokenizerFilesIn"/> of the source folder.</param>
    /// <returns>The files written.</returns>
    public static IReadOnlyList<string> Save(PretrainedModel model, string folder, ScalarType? dtype = null,
        long maxShardBytes = SafetensorsShardWriter.DefaultMaxShardBytes, IEnumerable<string>? extraFiles = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var copies = (extraFiles ?? []).ToList();
        foreach (var file in copies.Where(f => !File.Exists(f)))
        {
            throw new FileNotFoundException($"File '{file}' to copy into the saved model does not exist.", file);
        }
        Directory.CreateDirectory(folder);
        using var scope = NewDisposeScope();
        var weights = WeightsToSave(model, dtype);
        var written = SafetensorsShardWriter.Write(folder, weights, maxShardBytes, new Dictionary<string, string> { ["format"] = "pt" }).ToList();
        var storedDtype = dtype ?? weights.Values.Select(t => t.dtype).Where(is_floating_point).DefaultIfEmpty(ScalarType.Float32).First();
        written.Add(WriteConfig(model, folder, storedDtype));
        foreach (var file in copies)
        {
            var target = Path.Combine(folder, Path.GetFileName(file));
            if (!string.Equals(Path.GetFullPath(file), Path.GetFullPath(target), StringComparison.Ordinal))
            {
                File.Copy(file, target, overwrite: true);
            }
            written.Add(target);
        }
        return written;
    }

    /// <summary>
    /// Writes config.json for <paramref name="model"/> stored in <paramref name="storedDtype"/>: the HF class
    /// (<c>...ForSequenceClassification</c> when the model has a classification head) and, for a classifier,
    /// <c>num_labels</c>, <c>id2label</c> and <c>label2id</c> with <paramref name="labelNames"/> (in head order;
    /// default: the config's own when they fit, else HF's LABEL_i). Returns the file's path.
    /// </summary>
    internal static string WriteConfig(PretrainedModel model, string folder, ScalarType storedDtype, IReadOnlyList<string>? labelNames = null)
    {
        var configPath = Path.Combine(folder, HfConfigFile.FileName);
        var config = HfConfigFile.ToJson(model.Config, storedDtype, ArchitectureOf(model));
        int labels = model.ClassificationLabels;
        if (labelNames is not null && labelNames.Count != labels)
        {
            throw new ArgumentException($"{labelNames.Count} label names given for a head of {labels} outputs.", nameof(labelNames));
        }
        if (labels > 0 && (labelNames is not null || (config["id2label"]?.AsObject().Count ?? 0) != labels))
        {
            // HF sizes a sequence-classification head from id2label.
            var names = labelNames ?? [.. Enumerable.Range(0, labels).Select(i => $"LABEL_{i}")];
            config["id2label"] = new JsonObject(names.Select((name, i) => KeyValuePair.Create(i.ToString(CultureInfo.InvariantCulture), (JsonNode?)name)));
            config["label2id"] = new JsonObject(names.Select((name, i) => KeyValuePair.Create(name, (JsonNode?)i)));
        }
        if (labels > 0)
        {
            config["num_labels"] = labels;
        }
        File.WriteAllText(configPath, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return configPath;
    }

    /// <summary>The state dict to store: adapters left out, tied head dropped, floating weights converted.</summary>
    internal static Dictionary<string, Tensor> WeightsToSave(PretrainedModel model, ScalarType? dtype) =>
        SelectWeights(model.state_dict(), TiedEmbeddings.In(model.Config), dtype);

    /// <summary>
    /// Filters and converts a state dict for saving. Converted tensors are new (the caller's dispose scope owns
    /// them); the others are the model's own.
    /// </summary>
    internal static Dictionary<string, Tensor> SelectWeights(IEnumerable<KeyValuePair<string, Tensor>> state, bool tiedEmbeddings, ScalarType? dtype) =>
        state
            .Where(kv => !IsAdapterKey(kv.Key) && !(tiedEmbeddings && kv.Key == "lm_head.weight"))
            .ToDictionary(
                kv => kv.Key,
                kv => dtype is null || !is_floating_point(kv.Value.dtype) || kv.Value.dtype == dtype ? kv.Value : kv.Value.to(dtype.Value),
                StringComparer.Ordinal);

    private static bool IsAdapterKey(string key) =>
        key.Contains(".lora_A.", StringComparison.Ordinal) || key.Contains(".lora_B.", StringComparison.Ordinal);

    private static string? ArchitectureOf(PretrainedModel model)
    {
        if (!Architectures.TryGetValue(model.Config.ModelType, out var names))
        {
            return null;
        }
        if (model.ClassificationLabels > 0)
        {
            return names.SequenceClassification;
        }
        // Keep what the source config said (e.g. BertModel); name the LM class only when nothing was recorded.
        return model.Config.ExtraFields?.ContainsKey("architectures") == true ? null : names.CausalLm;
    }
}
