using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Embeddings;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora embed</c>: sentence embeddings from a model folder or a fine-tuned zip, by our own forward pass.</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder or model zip", Required = true };
        var text = new Option<string[]>("--text") { Description = "A text to embed (repeatable)", Required = true };
        var pooling = new Option<string?>("--pooling") { Description = "mean | cls (default: the model's own, from its modules.json; mean without one)" };
        var normalize = new Option<bool>("--normalize") { Description = "L2-normalise each vector (default: the model's own, a Normalize module in its modules.json)" };
        var json = new Option<bool>("--json") { Description = "Print {\"embeddings\": [[...], ...]}" };
        var command = new Command("embed", "Embed texts as sentence vectors (pooled token states).") { model, text, pooling, normalize, json };
        command.SetAction(parse =>
        {
            var options = new SentenceEmbeddingOptions
            {
                Pooling = parse.GetValue(pooling) is { } p ? SentenceEmbeddingConfig.ParsePooling(p) : null,
                Normalize = parse.GetValue(normalize) ? true : null,
            };
            var texts = parse.GetValue(text) ?? [];
            using var embedder = SentenceEmbedder.Open(parse.GetValue(model)!);
            var vectors = embedder.Embed(texts, options);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, float[][]> { ["embeddings"] = vectors }));
            }
            else
            {
                foreach (var vector in vectors)
                {
                    Console.WriteLine(string.Join(' ', vector.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
                }
            }
            return 0;
        });
        return command;
    }
}
