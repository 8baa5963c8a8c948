using System.CommandLine;
using System.Globalization;
using Microsoft.ML.Lora.Training;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora eval</c>: ML.NET's metrics for a saved model on a labelled data file.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = CommonOptions.ModelZip("A model zip saved by 'mllora train' or mlContext.Model.Save, or a Hugging Face sequence-classification folder ('mllora merge')");
        var data = CommonOptions.Data("Labelled data file (.tsv/.csv/.jsonl)");
        var positive = new Option<string?>("--positive-label") { Description = "Binary: label value of the positive class (default: the class names the model recorded, else 1/true/yes/positive/spam)" };
        var json = new Option<bool>("--json") { Description = "Print the metrics as one JSON object" };
        var columns = new FolderColumns();
        var command = new Command("eval", "Evaluate a saved model on labelled data with ML.NET's evaluators.") { model, data, positive, json };
        columns.AddTo(command);
        command.SetAction(parse =>
        {
            using var saved = columns.Open(parse, parse.GetValue(model)!);
            var input = saved.LoadData(parse.GetValue(data)!, parse.GetValue(positive));
            var metrics = Evaluate(saved, input);
            Print(metrics, parse.GetValue(json));
            return 0;
        });
        return command;
    }

    /// <summary>The task's metrics, by name.</summary>
    public static SortedDictionary<string, double> Evaluate(SavedModel saved, IDataView input)
    {
        var ml = saved.Context;
        if (saved.Task == LoraTask.CausalLanguageModel)
        {
            var lm = saved.Lora.EvaluateLanguageModel(input);
            return new() { ["loss"] = lm.Loss, ["perplexity"] = lm.Perplexity, ["tokens"] = lm.Tokens };
        }
        var scored = saved.Model.Transform(input);
        var label = saved.LabelColumn;
        return saved.Task switch
        {
            LoraTask.BinaryClassification => Binary(ml.BinaryClassification.Evaluate(scored, label)),
            LoraTask.MulticlassClassification => Multiclass(ml.MulticlassClassification.Evaluate(scored, label)),
            _ => Regression(ml.Regression.Evaluate(scored, label)),
        };
    }

    private static SortedDictionary<string, double> Binary(Microsoft.ML.Data.CalibratedBinaryClassificationMetrics m) => new()
    {
        ["accuracy"] = m.Accuracy, ["auc"] = m.AreaUnderRocCurve, ["f1"] = m.F1Score, ["log_loss"] = m.LogLoss,
        ["positive_precision"] = m.PositivePrecision, ["positive_recall"] = m.PositiveRecall,
    };

    private static SortedDictionary<string, double> Multiclass(Microsoft.ML.Data.MulticlassClassificationMetrics m) => new()
    {
        ["micro_accuracy"] = m.MicroAccuracy, ["macro_accuracy"] = m.MacroAccuracy, ["log_loss"] = m.LogLoss,
    };

    private static SortedDictionary<string, double> Regression(Microsoft.ML.Data.RegressionMetrics m) => new()
    {
        ["rmse"] = m.RootMeanSquaredError, ["mae"] = m.MeanAbsoluteError, ["r_squared"] = m.RSquared,
    };

    private static void Print(SortedDictionary<string, double> metrics, bool json)
    {
        if (json)
        {
            Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(metrics));
            return;
        }
        foreach (var (name, value) in metrics)
        {
            Console.WriteLine($"{name,-20} {value.ToString("G6", CultureInfo.InvariantCulture)}");
        }
    }
}
