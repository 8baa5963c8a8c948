using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>Writing a fine-tuned model with its adapter folded into the base, as a plain Hugging Face folder.</summary>
public sealed partial class LoraFineTuneTransformer
{
    /// <summary>
    /// Writes the base with this model's adapter merged in as a Hugging Face folder (what <c>mllora merge</c>
    /// writes): a causal LM as its <c>...ForCausalLM</c> class; a classifier as HF's
    /// <c>...ForSequenceClassification</c> (num_labels, id2label/label2id from <see cref="LabelNames"/>, the head
    /// under HF's names, no LM head), with tokenizer_config.json recording the training truncation — loadable by
    /// <see cref="Checkpoints.PretrainedModelLoader"/> and <see cref="HfClassifierFolder.LoadSequenceClassifier"/>
    /// with this model's predictions. Weights are summed in fp32 and stored in <paramref name="dtype"/> (default:
    /// the base's). Tokenizer files are copied when the model has them.
    /// </summary>
    /// <exception cref="NotSupportedException">A regression model: its head predicts standardised targets, which an HF folder cannot record.</exception>
    public void SaveMerged(string folder, ScalarType? dtype = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (Task == LoraTask.Regression)
        {
            throw new NotSupportedException(
                $"A regression model cannot be merged into a Hugging Face folder: its head predicts (label − {Manifest.LabelMean}) / {Manifest.LabelScale}, which HF's config cannot record. Export the adapter instead (mllora peft export, or PeftAdapterFormat.Export).");
        }
        IReadOnlyList<string>? labelNames = Task switch
        {
            LoraTask.BinaryClassification => LabelNames ?? ["false", "true"],
            LoraTask.MulticlassClassification => LabelNames,
            _ => null,
        };
        IO.AtomicOutput.WriteFolder(folder, temp => WriteMerged(temp, dtype, labelNames));
    }

    private void WriteMerged(string folder, ScalarType? dtype, IReadOnlyList<string>? labelNames)
    {
        lock (_base.Gate)
        {
            // Head-only and full fine-tunes have no adapter: their (own) base weights are the model.
            _base.Lora.SetActiveAdapters(AdapterName is { } name ? [name] : []);
            MergedModel.Save(_base.Lora, folder, dtype, labelNames);
        }
        if (!_base.HasTokenizer)
        {
            return;
        }
        var files = Task == LoraTask.CausalLanguageModel
            ? _base.Tokenizer.Files
            : HfClassifierFolder.WithTruncation(_base.Tokenizer.Files, Manifest.MaxSequenceLength, Manifest.TruncationSide);
        foreach (var (name, bytes) in files)
        {
            File.WriteAllBytes(Path.Combine(folder, name), bytes);
        }
    }
}
