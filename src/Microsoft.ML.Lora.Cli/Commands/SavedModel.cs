using Microsoft.ML.Data;
using MlLora.Cli.Data;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Training;

namespace MlLora.Cli.Commands;

/// <summary>A model zip loaded for scoring, with the LoRA transformer found inside its chain.</summary>
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

    public static SavedModel Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Model zip '{path}' does not exist.", path);
        }
        var ml = new MLContext(seed: 0);
        var model = ml.Model.LoadWithLora(path, out _);
        var lora = LoraFineTuneTransformer.FindIn(model) ?? throw new InvalidDataException($"'{path}' holds no LoRA fine-tuned model (no LoraFineTuneTransformer in its pipeline).");
        return new SavedModel(ml, model, lora);
    }

    /// <summary>Reads a data file with the label typed as this model's task expects.</summary>
    public IDataView LoadData(string path, string? positiveLabel)
    {
        var table = TextTable.Load(path);
        var label = Task == LoraTask.CausalLanguageModel || !table.Columns.Contains(LabelColumn) ? null : LabelColumn;
        return TaskData.Load(table, Task, label, positiveLabel);
    }

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
