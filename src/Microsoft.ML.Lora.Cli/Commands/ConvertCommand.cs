using System.CommandLine;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Checkpoints.Onnx;

namespace MlLora.Cli.Commands;

/// <summary>
/// <c>mllora convert llama2c</c>: a llama2.c checkpoint (and tokenizer) into a Hugging Face folder;
/// <c>mllora convert onnx</c>: an ONNX BERT encoder and its vocab.txt into one.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var command = new Command("convert", "Convert checkpoints from other formats into Hugging Face folders.");
        command.Subcommands.Add(Llama2c());
        command.Subcommands.Add(Onnx());
        return command;
    }

    private static Command Onnx()
    {
        var model = new Option<string>("--model") { Description = "ONNX model of a BERT-family encoder (model.onnx)", Required = true };
        var vocab = new Option<string>("--vocab") { Description = "Its WordPiece vocabulary (vocab.txt)", Required = true };
        var output = new Option<string>("--out") { Description = "Output folder (config.json, model.safetensors, tokenizer files)", Required = true };
        var pooling = new Option<string?>("--pooling") { Description = "Sentence pooling the model was trained with, written as sentence-transformers' modules.json: mean | cls" };
        var normalize = new Option<bool>("--normalize") { Description = "With --pooling: the model's embeddings are L2-normalised (a Normalize module)" };
        var maxLength = new Option<int?>("--max-seq-length") { Description = "With --pooling: longest input in tokens (sentence_bert_config.json)" };
        var command = new Command("onnx", "Convert an ONNX BERT encoder (names, heads, epsilon and activation traced from the graph).")
        {
            model, vocab, output, pooling, normalize, maxLength,
        };
        command.SetAction(parse =>
        {
            var sentence = parse.GetValue(pooling) is { } p
                ? new SentenceEmbeddingConfig(SentenceEmbeddingConfig.ParsePooling(p), parse.GetValue(normalize), parse.GetValue(maxLength))
                : parse.GetValue(normalize) || parse.GetValue(maxLength) is not null
                    ? throw new ArgumentException("--normalize and --max-seq-length describe sentence embeddings: give --pooling mean|cls with them.")
                    : null;
            var result = OnnxBertImporter.Convert(parse.GetValue(model)!, parse.GetValue(vocab)!, parse.GetValue(output)!, sentence);
            Console.WriteLine($"Wrote {result.Folder}");
            if (!result.PoolerFromGraph)
            {
                Console.WriteLine("note: the graph has no BertPooler (pruned by the export); the folder's pooler is the identity.");
            }
            Console.Write(CheckpointInspector.Inspect(result.Folder).ToText(includeTensors: false));
            return 0;
        });
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
