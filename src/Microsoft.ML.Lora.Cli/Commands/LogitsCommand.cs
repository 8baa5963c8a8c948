using System.CommandLine;
using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora logits</c>: float32 logits [1, T, vocab] for given token ids, as safetensors (a numerics reference hook).</summary>
internal static class LogitsCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder or model zip", Required = true };
        var ids = new Option<string>("--token-ids") { Description = "Comma-separated token ids, e.g. 1,5,9", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype: fp32 | bf16 | fp16", DefaultValueFactory = _ => "fp32" };
        var output = new Option<string>("--out") { Description = "Output .safetensors file (tensor 'logits')", Required = true };
        var overwrite = OutputPaths.Overwrite();
        var command = new Command("logits", "Write the logits of a token sequence to a safetensors file (no tokenizer needed).") { model, ids, dtype, output, overwrite };
        command.SetAction(parse =>
        {
            OutputPaths.CheckFile(output, parse.GetValue(output)!, parse.GetValue(overwrite));
            using var source = ModelSource.Open(parse.GetValue(model)!);
            var tokens = LogitsDump.ParseTokenIds(parse.GetValue(ids)!);
            var compute = LogitsDump.ParseComputeDtype(parse.GetValue(dtype)!);
            source.Model.Model.eval();
            using var noGrad = no_grad();
            LogitsDump.Write(parse.GetValue(output)!, source.Model.Model, tokens, compute);
            Console.WriteLine($"wrote logits [1, {tokens.Length}, {source.Model.Model.Config.VocabularySize}] to {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
