using System.CommandLine;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora merge</c>: fold a fine-tuned zip's adapter into the base weights and write an HF folder.</summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.ModelZip();
        var output = new Option<string>("--out") { Description = "Output Hugging Face folder", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "fp32 | bf16 | fp16 (default: the base's dtype)" };
        var command = new Command("merge", "Merge a model zip's LoRA adapter into its base and save a Hugging Face folder.") { model, output, dtype };
        command.SetAction(parse =>
        {
            using var saved = SavedModel.Load(parse.GetValue(model)!);
            var target = parse.GetValue(dtype) is { } d ? LogitsDtype(d) : (TorchSharp.torch.ScalarType?)null;
            var folder = parse.GetValue(output)!;
            MergedModel.Save(saved.Lora.Model.Lora, folder, target);
            foreach (var (name, bytes) in saved.Lora.Model.Tokenizer.Files)
            {
                File.WriteAllBytes(Path.Combine(folder, name), bytes);
            }
            Console.WriteLine($"wrote merged model to {folder}");
            return 0;
        });
        return command;
    }

    private static TorchSharp.torch.ScalarType LogitsDtype(string text) => Microsoft.ML.Lora.Models.LogitsDump.ParseComputeDtype(text);
}
