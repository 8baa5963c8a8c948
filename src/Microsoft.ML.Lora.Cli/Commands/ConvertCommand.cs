using System.CommandLine;
using Microsoft.ML.Lora.Checkpoints;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora convert llama2c</c>: a llama2.c checkpoint (and tokenizer) into a Hugging Face folder.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var command = new Command("convert", "Convert checkpoints from other formats into Hugging Face folders.");
        command.Subcommands.Add(Llama2c());
        return command;
    }

    private static Command Llama2c()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "llama2.c checkpoint (.bin, legacy export)", Required = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "llama2.c tokenizer (tok*.bin); written as a SentencePiece tokenizer.model" };
        var output = new Option<string>("--out") { Description = "Output folder (config.json, model.safetensors, tokenizer.model)", Required = true };
        var overwrite = OutputPaths.Overwrite();
        var command = new Command("llama2c", "Convert a llama2.c model (RoPE pairs re-laid out for Hugging Face's Llama).") { checkpoint, tokenizer, output, overwrite };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(output)!;
            OutputPaths.CheckFolder(output, folder, parse.GetValue(overwrite));
            Llama2cImporter.Convert(parse.GetValue(checkpoint)!, folder, parse.GetValue(tokenizer));
            Console.WriteLine($"Wrote {Path.GetFullPath(folder)}");
            Console.Write(CheckpointInspector.Inspect(folder).ToText(includeTensors: false));
            return 0;
        });
        return command;
    }
}
