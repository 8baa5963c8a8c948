using Microsoft.ML.Data;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Checkpoints.Onnx;
using Microsoft.ML.Lora.Embeddings;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tests.Cli;
using Microsoft.ML.Lora.Tests.MLNet;
using System.Text.Json;

namespace Microsoft.ML.Lora.Tests.Checkpoints.Onnx;

/// <summary>The embedding transform in ML.NET pipelines, and embedding with a LoRA fine-tuned zip.</summary>
public class SentenceEmbeddingTransformTests
{
    public sealed class TextRow
    {
        public string Text { get; set; } = "";
    }

    public sealed class EmbeddingRow
    {
        public string Text { get; set; } = "";
        public float[] Embedding { get; set; } = [];
    }

    [Fact]
    public void TransformPredictionEngineAndReloadedZipGiveTheEmbedderVectors()
    {
        var folder = PackagedModels.MiniLm.Folder;
        var texts = PackagedModels.Sentences.Take(10).ToArray();
        float[][] expected;
        using (var embedder = SentenceEmbedder.Open(folder))
        {
            expected = embedder.Embed(texts);
            Assert.Equal(384, embedder.Dimension);
        }
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(texts.Select(t => new TextRow { Text = t }));
        using var transformer = ml.Transforms.Text.LoraSentenceEmbedding(folder).Fit(data);
        var schema = transformer.GetOutputSchema(data.Schema);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 384), schema["Embedding"].Type);
        AssertSame(expected, Read(ml, transformer.Transform(data)), 1e-6);
        var engine = ml.Model.CreatePredictionEngine<TextRow, EmbeddingRow>(transformer);
        AssertSame([expected[3]], [engine.Predict(new TextRow { Text = texts[3] }).Embedding], 1e-6);

        using var temp = new TempFolder();
        ml.Model.Save(transformer, data.Schema, temp.File("embed.zip"));
        var loaded = new MLContext().Model.LoadWithLora(temp.File("embed.zip"), out _);
        try
        {
            AssertSame(expected, Read(ml, loaded.Transform(data)), 1e-6);
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
        Assert.Throws<LoraSchemaException>(() => ml.Transforms.Text.LoraSentenceEmbedding(folder, inputColumnName: "Missing").Fit(data));
    }

    [Fact]
    public void AFineTunedZipEmbedsWithItsAdapter()
    {
        using var temp = new TempFolder();
        var (onnx, vocab) = OnnxGraphTracingTests.Write(temp, new TinyBertOnnx().Build(seed: 9));
        var folder = OnnxBertImporter.Convert(onnx, vocab, temp.File("hf"), new SentenceEmbeddingConfig(SentencePooling.Mean, true, null)).Folder;
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, seed: 1));
        var options = new LoraFineTuneOptions { BaseModelPath = folder, TargetModules = "query,value", Rank = 4, Alpha = 8, NumberOfEpochs = 2, LearningRate = 5e-2 };
        string[] texts = ["the film was great", "my day was awful"];
        float[][] inMemory;
        using (var model = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(train))
        {
            ml.Model.Save(model, train.Schema, temp.File("tuned.zip"));
            using var embedder = SentenceEmbedder.FromModel(model.Model, model.AdapterName);
            inMemory = embedder.Embed(texts);
        }
        var fromZip = EmbedWithCli(temp.File("tuned.zip"), texts);
        var fromBase = EmbedWithCli(folder, texts);
        AssertSame(inMemory, fromZip, 1e-6);
        Assert.True(inMemory.Zip(fromBase).Max(p => p.First.Zip(p.Second).Max(x => Math.Abs(x.First - x.Second))) > 1e-4, "the adapter changed nothing");
        Assert.All(fromZip, v => Assert.Equal(1, Math.Sqrt(v.Sum(x => (double)x * x)), 5));
    }

    /// <summary>Runs <c>mllora embed --json</c> in-process and parses its vectors.</summary>
    internal static float[][] EmbedWithCli(string model, IEnumerable<string> texts, params string[] options)
    {
        var (code, output, error) = CliRunner.Run(["embed", "--model", model, "--json", .. texts.SelectMany(t => new[] { "--text", t }), .. options]);
        Assert.True(code == 0, error);
        using var document = JsonDocument.Parse(output);
        return [.. document.RootElement.GetProperty("embeddings").EnumerateArray().Select(v => v.EnumerateArray().Select(x => x.GetSingle()).ToArray())];
    }

    private static float[][] Read(MLContext ml, IDataView view) =>
        [.. ml.Data.CreateEnumerable<EmbeddingRow>(view, reuseRowObject: false).Select(r => r.Embedding)];

    private static void AssertSame(float[][] expected, float[][] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Length, actual[i].Length);
            Assert.InRange(expected[i].Zip(actual[i]).Max(x => Math.Abs(x.First - x.Second)), 0, tolerance);
        }
    }
}
