using MlLora.Cli.Data;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Training;

namespace MlLora.Cli.Commands;

/// <summary>
/// A model loaded for scoring, with the LoRA transformer found inside its chain: a model zip, or (for predict and
/// eval) a Hugging Face sequence-classification folder such as <c>mllora merge</c> writes.
/// </summary>
internal sealed class SavedModel : IDisposable
{
    private SavedModel(MLContext ml, ITransformer model, LoraFineTuneTransformer lora)
    {
        Context = ml;
        Model = model;
        Lora = lora;
    }

    public MLContext Context { get; }
    public ITransformer Model { get; }
    public LoraFineTuneTransformer Lora { get; }
    public LoraTask Task => Lora.Task;

    /// <summary>A model zip saved by <c>mllora train</c> or mlContext.Model.Save.</summary>
    public static SavedModel Load(string path)
    {
        if (Directory.Exists(path))
        {
            throw new ArgumentException($"'{path}' is a folder; this command takes a model zip (saved by 'mllora train' or mlContext.Model.Save).");
        }
        ModelPaths.RequireZipOrFolder("--model", path);
        var ml = new MLContext(seed: 0);
        var model = ml.Model.LoadWithLora(path, out _);
        var lora = LoraFineTuneTransformer.FindIn(model) ?? throw new InvalidDataException($"'{path}' holds no LoRA fine-tuned model (no LoraFineTuneTransformer in its pipeline).");
        return new SavedModel(ml, model, lora);
    }

    /// <summary>
    /// A model zip, or a Hugging Face sequence-classification folder read with the given columns (a zip knows
    /// its own). A multiclass folder's label is mapped to keys in id2label order, as a trained zip maps it.
    /// </summary>
    public static SavedModel Open(string path, string textColumn, string? text2Column, string labelColumn)
    {
        ModelPaths.RequireZipOrFolder("--model", path);
        if (!Directory.Exists(path))
        {
            return Load(path);
        }
        var ml = new MLContext(seed: 0);
        var lora = ml.Model.LoadSequenceClassifier(path, textColumn, text2Column, labelColumn);
        if (lora.Task != LoraTask.MulticlassClassification)
        {
            return new SavedModel(ml, lora, lora);
        }
        var keys = new InMemoryDataView([(labelColumn, (Array)lora.LabelNames!.ToArray())]);
        var mapping = ml.Transforms.Conversion.MapValueToKey(labelColumn, keyData: keys).Fit(keys);
        return new SavedModel(ml, new TransformerChain<ITransformer>(mapping, lora), lora);
    }

    /// <summary>Reads a data file with the label typed as this model's task expects (binary: by the names the model recorded).</summary>
    public IDataView LoadData(string path, string? positiveLabel)
    {
        var table = TextTable.Load(path);
        var label = Task == LoraTask.CausalLanguageModel || !table.Columns.Contains(LabelColumn) ? null : LabelColumn;
        var labels = new BinaryLabels(positiveLabel, Task == LoraTask.BinaryClassification ? Lora.LabelNames : null);
        return TaskData.Load(table, Task, label, labels);
    }

    /// <summary>
    /// What scores a file of text columns: the whole chain when the file has the label column its preprocessing
    /// may read, else the LoRA transformer alone (it reads only the text columns).
    /// </summary>
    public ITransformer ScorerFor(TextTable table) => table.Columns.Contains(LabelColumn) ? Model : Lora;

    public string LabelColumn => Lora.LabelColumnName;

    public void Dispose()
    {
        foreach (var disposable in Enumerate(Model).OfType<IDisposable>())
        {
            disposable.Dispose();
        }
    }

    private static IEnumerable<ITransformer> Enumerate(ITransformer model) =>
        model is IEnumerable<ITransformer> chain ? chain.SelectMany(Enumerate) : [model];
}
