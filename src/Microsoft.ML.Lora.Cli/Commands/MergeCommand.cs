using System.CommandLine;
using Microsoft.ML.Lora.Models;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora merge</c>: fold a fine-tuned zip's adapter into the base weights and write an HF folder.</summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.ModelZip();
        var output = new Option<string>("--out") { Description = "Output Hugging Face folder", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "fp32 | bf16 | fp16 (default: the base's dtype); the sum is taken in fp32 and cast once" };
        var overwrite = OutputPaths.Overwrite();
        var command = new Command("merge", "Merge a model zip's LoRA adapter into its base and save a Hugging Face folder (a classifier as HF's ...ForSequenceClassification).")
        {
            model, output, dtype, overwrite,
        };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(output)!;
            OutputPaths.CheckFolder(output, folder, parse.GetValue(overwrite));
            var target = parse.GetValue(dtype) is { } d ? LogitsDump.ParseComputeDtype(d) : (TorchSharp.torch.ScalarType?)null;
            using var saved = SavedModel.Load(parse.GetValue(model)!);
            saved.Lora.SaveMerged(folder, target);
            Console.WriteLine($"wrote merged model to {folder}");
            return 0;
        });
        return command;
    }
}
