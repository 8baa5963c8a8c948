using System.CommandLine;
using Microsoft.ML.Lora.Models.Generation;
using Microsoft.ML.Lora.Tokenization;
using static TorchSharp.torch;

namespace MlLora.Cli.Commands;

/// <summary>
/// <c>mllora generate</c>: continue a prompt with a base model folder or a fine-tuned zip, printing tokens as they are
/// produced. A prompt that already starts with the BOS token (a rendered chat template) gets no second one.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder or model zip", Required = true };
        var prompt = new Option<string>("--prompt") { Description = "The prompt text", Required = true };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => 0 };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0 = all)" };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass", DefaultValueFactory = _ => 1.0 };
        var repetition = new Option<double>("--repetition-penalty") { Description = "> 1 discourages repeats", DefaultValueFactory = _ => 1.0 };
        var stop = new Option<string[]>("--stop") { Description = "Stop strings (repeatable)", AllowMultipleArgumentsPerToken = true };
        var seed = new Option<long?>("--seed") { Description = "Sampling seed" };
        var command = new Command("generate", "Generate text from a prompt.") { model, prompt, maxNew, temperature, topK, topP, repetition, stop, seed };
        command.SetAction(parse =>
        {
            using var source = ModelSource.Open(parse.GetValue(model)!);
            var tokenizer = source.Model.Tokenizer;
            var options = new GenerationOptions
            {
                MaxNewTokens = parse.GetValue(maxNew),
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                RepetitionPenalty = parse.GetValue(repetition),
                StopStrings = parse.GetValue(stop) ?? [],
                Seed = parse.GetValue(seed),
                EosTokenIds = tokenizer.EosId is { } eos ? [eos] : null,
            };
            source.Model.Model.eval();
            using var noGrad = no_grad();
            var text = parse.GetValue(prompt)!;
            var ids = tokenizer.Encode(text);
            var promptIds = ids.Count > 0 && tokenizer.BosId is { } bos && ids[0] == bos ? ids : tokenizer.EncodeForModel(text);
            var stream = new IncrementalDecoder(tokenizer, options.StopStrings);
            var result = new TextGenerator(source.Model.Model, tokenizer).Generate(promptIds, options, id => Print(stream.Push(id)));
            Print(stream.Finish(result.Text ?? tokenizer.Decode(result.TokenIds)));
            Console.WriteLine();
            return 0;
        });
        return command;
    }

    private static void Print(string piece)
    {
        if (piece.Length > 0)
        {
            Console.Write(piece);
            Console.Out.Flush();
        }
    }
}
