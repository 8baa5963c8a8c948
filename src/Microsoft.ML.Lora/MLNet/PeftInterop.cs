using Microsoft.ML.Data;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>Hugging Face PEFT adapters as ML.NET transformers.</summary>
public static class PeftInterop
{
    /// <summary>
    /// Loads <paramref name="baseModelFolder"/>, imports the PEFT adapter in <paramref name="adapterFolder"/>
    /// (adapter_config.json + adapter_model.safetensors) and returns a transformer that scores and saves like a
    /// fine-tuned one. The task follows the adapter: SEQ_CLS with 1 output → regression, 2 → binary, more →
    /// multiclass (keys 1..N); anything else → causal language model.
    /// </summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="baseModelFolder">The base model's Hugging Face folder.</param>
    /// <param name="adapterFolder">The PEFT adapter folder.</param>
    /// <param name="textColumnName">The input text column the transformer reads (the prompt column for causal LMs).</param>
    public static LoraFineTuneTransformer ImportPeftAdapter(this ModelOperationsCatalog catalog, string baseModelFolder, string adapterFolder, string textColumnName = "Text")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var env = catalog.GetEnvironment();
        var baseModel = LoraBaseModel.Load(baseModelFolder);
        try
        {
            var report = PeftAdapterFormat.Import(baseModel.Lora, adapterFolder, AdapterSetup.FreshAdapterName(baseModel));
            baseModel.Lora.SetActiveAdapters(report.AdapterName);
            int labels = baseModel.Model.ClassificationLabels;
            var task = report.Config.TaskType == "SEQ_CLS" && labels > 0
                ? labels switch { 1 => LoraTask.Regression, 2 => LoraTask.BinaryClassification, _ => LoraTask.MulticlassClassification }
                : LoraTask.CausalLanguageModel;
            var manifest = new LoraModelManifest
            {
                Task = task,
                TextColumn = textColumnName,
                PromptColumn = task == LoraTask.CausalLanguageModel ? textColumnName : null,
                Labels = task == LoraTask.MulticlassClassification ? labels : 0,
                Lora = report.Config,
                AdapterName = report.AdapterName,
                Base = new BaseModelReference { Path = baseModel.Folder, Fingerprint = baseModel.Fingerprint, ModelType = baseModel.Model.Config.ModelType },
                MaxSequenceLength = Math.Min(512, baseModel.Model.Config.MaxPositions),
                ScoringBatchSize = 32,
                MaxNewTokens = 64,
                Device = "cpu",
            };
            return new LoraFineTuneTransformer(env, manifest, baseModel, ownsModel: true, encoder: null, training: null)
            {
                ImportReport = report,
            };
        }
        catch
        {
            baseModel.Dispose();
            throw;
        }
    }
}
