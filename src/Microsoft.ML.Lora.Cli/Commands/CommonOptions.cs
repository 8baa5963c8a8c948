using System.CommandLine;
using Microsoft.ML.Lora.Training;

namespace MlLora.Cli.Commands;

/// <summary>Options shared by several verbs, with their contract names.</summary>
internal static class CommonOptions
{
    public static Option<string> Task() => new("--task")
    {
        Description = "binary | multiclass | regression | causal-lm",
        Required = true,
    };

    public static LoraTask ParseTask(string value) => value.ToLowerInvariant() switch
    {
        "binary" => LoraTask.BinaryClassification,
        "multiclass" => LoraTask.MulticlassClassification,
        "regression" => LoraTask.Regression,
        "causal-lm" => LoraTask.CausalLanguageModel,
        _ => throw new ArgumentException($"--task '{value}' is not one of binary, multiclass, regression, causal-lm."),
    };

    public static string TaskName(LoraTask task) => task switch
    {
        LoraTask.BinaryClassification => "binary",
        LoraTask.MulticlassClassification => "multiclass",
        LoraTask.Regression => "regression",
        _ => "causal-lm",
    };

    public static Option<string> Data(string description = "Data file: .tsv/.csv with a header row, or .jsonl") =>
        new("--data") { Description = description, Required = true };

    public static Option<string> ModelZip(string description = "A model zip saved by 'mllora train' or mlContext.Model.Save") =>
        new("--model") { Description = description, Required = true };
}
