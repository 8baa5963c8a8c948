using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Tokenization;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>
/// <c>mllora merge</c> of a classifier writes a Hugging Face sequence-classification folder (architecture, labels,
/// HF's head names) that predict, eval and the library load with the zip's predictions.
/// </summary>
public sealed class CliMergeTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static JsonObject Config(string folder) => JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();

    private static Dictionary<string, long[]> Tensors(string folder)
    {
        using var file = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        return file.Entries.ToDictionary(e => e.Name, e => e.Shape.ToArray());
    }

    private string Merge(string zip, string name = "merged")
    {
        var folder = Path.Combine(_dir.Path, name);
        var (code, _, error) = CliRunner.Run("merge", "--model", zip, "--out", folder);
        Assert.True(code == 0, error);
        return folder;
    }

    [Fact]
    public void MergedLlamaClassifierIsAnHfSequenceClassificationFolder()
    {
        var folder = Merge(CliData.TrainSpamZip(_dir.Path));
        var config = Config(folder);
        Assert.Equal("LlamaForSequenceClassification", config["architectures"]![0]!.GetValue<string>());
        Assert.Equal(2, config["num_labels"]!.GetValue<int>());
        Assert.Equal("ham", config["id2label"]!["0"]!.GetValue<string>());
        Assert.Equal("spam", config["id2label"]!["1"]!.GetValue<string>());
        Assert.Equal(0, config["label2id"]!["ham"]!.GetValue<int>());
        Assert.Equal(1, config["label2id"]!["spam"]!.GetValue<int>());

        // LlamaForSequenceClassification's own keys: the body under "model." and the head "score" (no bias, no lm_head).
        var tensors = Tensors(folder);
        Assert.Equal([2, 64], tensors["score.weight"]);
        Assert.All(tensors.Keys, k => Assert.True(k == "score.weight" || k.StartsWith("model.", StringComparison.Ordinal), k));
        Assert.DoesNotContain(tensors.Keys, k => k.Contains("lora_", StringComparison.Ordinal) || k.Contains("modules_to_save", StringComparison.Ordinal));
        using var reference = SafetensorsFile.Open(Path.Combine(Stories260K.Folder, "model.safetensors"));
        Assert.Equal(reference.Entries.Select(e => e.Name).Order(), tensors.Keys.Where(k => k != "score.weight").Order());
    }

    [Fact]
    public void MergedClassifierPredictsAsTheZipInTheCliAndTheLibrary()
    {
        var zip = CliData.TrainSpamZip(_dir.Path);
        var folder = Merge(zip);
        var test = CliData.SmsSubset(_dir.Path, "test.tsv", 96, 40);

        var fromZip = Path.Combine(_dir.Path, "zip.tsv");
        var fromFolder = Path.Combine(_dir.Path, "folder.tsv");
        var (code, _, error) = CliRunner.Run("predict", "--model", zip, "--data", test, "--out", fromZip);
        Assert.True(code == 0, error);
        (code, _, error) = CliRunner.Run("predict", "--model", folder, "--data", test, "--text-column", "SMS", "--out", fromFolder);
        Assert.True(code == 0, error);
        var (zipHeader, zipRows) = CliData.ReadTsv(fromZip);
        var (folderHeader, folderRows) = CliData.ReadTsv(fromFolder);
        Assert.Equal(zipHeader, folderHeader);
        int probability = Array.IndexOf(zipHeader, "Probability"), predicted = Array.IndexOf(zipHeader, "PredictedLabel");
        var zipProbabilities = zipRows.Select(r => double.Parse(r[probability], CultureInfo.InvariantCulture)).ToList();
        for (int i = 0; i < zipRows.Count; i++)
        {
            Assert.Equal(zipProbabilities[i], double.Parse(folderRows[i][probability], CultureInfo.InvariantCulture), 1e-4);
            Assert.Equal(zipRows[i][predicted], folderRows[i][predicted]);
        }
        Assert.True(zipProbabilities.Max() - zipProbabilities.Min() > 1e-3, "the trained head should tell the messages apart");

        // The library: PretrainedModelLoader + the folder's tokenizer, truncated to the length the zip trained with.
        using var model = PretrainedModelLoader.Load(folder);
        Assert.Equal(2, model.ClassificationLabels);
        var encoder = new ExampleEncoder(TokenizerLoader.FromFolder(folder), 48, truncateLeft: false);
        var texts = File.ReadLines(test).Skip(1).Select(l => l.Split('\t')[1]).ToList();
        using var noGrad = no_grad();
        for (int i = 0; i < texts.Count; i++)
        {
            var ids = encoder.Encode(texts[i], null, 0).InputIds.Select(t => (long)t).ToArray();
            using var logits = model.ClassificationLogits(tensor(ids, [1, ids.Length]), ones(1, ids.Length, ScalarType.Int64));
            using var p = logits.softmax(-1);
            Assert.Equal(zipProbabilities[i], p[0, 1].item<float>(), 1e-4);
        }

        var zipMetrics = Metrics(CliRunner.Run("eval", "--model", zip, "--data", test, "--json"));
        var folderMetrics = Metrics(CliRunner.Run("eval", "--model", folder, "--data", test, "--text-column", "SMS", "--json"));
        Assert.Equal(zipMetrics.Keys.Order(), folderMetrics.Keys.Order());
        foreach (var (name, value) in zipMetrics)
        {
            Assert.Equal(value, folderMetrics[name], 1e-4);
        }
    }

    [Fact]
    public void MergedMulticlassClassifierKeepsItsClassesInKeyOrder()
    {
        // Three classes by message length: what matters here is that the folder predicts as the zip does.
        string Size(string text) => text.Length < 40 ? "short" : text.Length < 100 ? "medium" : "long";
        string Write(string name, int skip, int take)
        {
            var rows = File.ReadLines(CliData.SmsSubset(_dir.Path, name + ".source", skip, take)).Skip(1).Select(l => l.Split('\t')[1]);
            var path = Path.Combine(_dir.Path, name);
            File.WriteAllLines(path, new[] { "Size\tSMS" }.Concat(rows.Select(t => $"{Size(t)}\t{t}")));
            return path;
        }
        var train = Write("sizes-train.tsv", 0, 96);
        var test = Write("sizes-test.tsv", 96, 30);
        var zip = Path.Combine(_dir.Path, "sizes.zip");
        var (code, _, error) = CliRunner.Run("train", "--task", "multiclass", "--model", Stories260K.Folder, "--data", train, "--text-column", "SMS",
            "--label-column", "Size", "--epochs", "1", "--batch-size", "16", "--max-length", "48", "--lr", "5e-3", "--out", zip);
        Assert.True(code == 0, error);
        var folder = Merge(zip);
        var config = Config(folder);
        Assert.Equal(3, config["num_labels"]!.GetValue<int>());
        // MapValueToKey ByValue orders the keys alphabetically: long, medium, short.
        Assert.Equal(["long", "medium", "short"], Enumerable.Range(0, 3).Select(i => config["id2label"]![i.ToString(CultureInfo.InvariantCulture)]!.GetValue<string>()));

        var fromZip = Path.Combine(_dir.Path, "sizes-zip.tsv");
        var fromFolder = Path.Combine(_dir.Path, "sizes-folder.tsv");
        Assert.Equal(0, CliRunner.Run("predict", "--model", zip, "--data", test, "--out", fromZip).ExitCode);
        var run = CliRunner.Run("predict", "--model", folder, "--data", test, "--text-column", "SMS", "--label-column", "Size", "--out", fromFolder);
        Assert.True(run.ExitCode == 0, run.Error);
        var (header, zipRows) = CliData.ReadTsv(fromZip);
        var (folderHeader, folderRows) = CliData.ReadTsv(fromFolder);
        Assert.Equal(header, folderHeader);
        int score = Array.IndexOf(header, "Score"), predicted = Array.IndexOf(header, "PredictedLabel");
        for (int i = 0; i < zipRows.Count; i++)
        {
            Assert.Equal(zipRows[i][predicted], folderRows[i][predicted]);
            var a = zipRows[i][score].Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToList();
            var b = folderRows[i][score].Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(3, a.Count);
            Assert.All(a.Zip(b), p => Assert.Equal(p.First, p.Second, 1e-4));
        }
        var zipMetrics = Metrics(CliRunner.Run("eval", "--model", zip, "--data", test, "--json"));
        var folderMetrics = Metrics(CliRunner.Run("eval", "--model", folder, "--data", test, "--text-column", "SMS", "--label-column", "Size", "--json"));
        foreach (var (name, value) in zipMetrics)
        {
            Assert.Equal(value, folderMetrics[name], 1e-4);
        }
    }

    [Fact]
    public void RegressionZipIsRefusedWithTheReason()
    {
        var data = Path.Combine(_dir.Path, "lengths.tsv");
        File.WriteAllLines(data, new[] { "Length\tText" }.Concat(Enumerable.Range(0, 16).Select(i => $"{i}\t{new string('a', i + 1)} story")));
        var zip = Path.Combine(_dir.Path, "lengths.zip");
        var (code, _, error) = CliRunner.Run("train", "--task", "regression", "--model", Stories260K.Folder, "--data", data, "--label-column", "Length",
            "--epochs", "1", "--out", zip);
        Assert.True(code == 0, error);
        (code, _, error) = CliRunner.Run("merge", "--model", zip, "--out", Path.Combine(_dir.Path, "lengths-merged"));
        Assert.Equal(2, code);
        Assert.Contains("regression", error);
        Assert.Contains("peft export", error);
    }

    private static Dictionary<string, double> Metrics((int ExitCode, string Out, string Error) run)
    {
        Assert.True(run.ExitCode == 0, run.Error);
        return JsonSerializer.Deserialize<Dictionary<string, double>>(run.Out)!;
    }

    [Theory]
    [InlineData("gpt2", "GPT2ForSequenceClassification", "transformer.", new[] { "score.weight" })]
    [InlineData("bert", "BertForSequenceClassification", "bert.", new[] { "classifier.weight", "classifier.bias" })]
    [InlineData("distilbert", "DistilBertForSequenceClassification", "distilbert.",
        new[] { "pre_classifier.weight", "pre_classifier.bias", "classifier.weight", "classifier.bias" })]
    public void EveryFamilyMergesToItsHfClassifier(string family, string architecture, string bodyPrefix, string[] head)
    {
        var baseModel = TinyModelFolders.Create(family, _dir.Path);
        var targets = family switch { "gpt2" => "c_attn", "bert" => "query,value", _ => "q_lin,v_lin" };
        var zip = CliData.TrainSpamZip(_dir.Path, $"{family}.zip", baseModel, "--targets", targets);
        var folder = Merge(zip, family + "-merged");
        Assert.Equal(architecture, Config(folder)["architectures"]![0]!.GetValue<string>());
        var tensors = Tensors(folder);
        Assert.All(head, h => Assert.Contains(h, tensors.Keys));
        Assert.All(tensors.Keys, k => Assert.True(head.Contains(k) || k.StartsWith(bodyPrefix, StringComparison.Ordinal), k));

        var test = CliData.SmsSubset(_dir.Path, "test.tsv", 96, 24);
        var fromZip = Path.Combine(_dir.Path, family + "-zip.tsv");
        var fromFolder = Path.Combine(_dir.Path, family + "-folder.tsv");
        Assert.Equal(0, CliRunner.Run("predict", "--model", zip, "--data", test, "--out", fromZip).ExitCode);
        var run = CliRunner.Run("predict", "--model", folder, "--data", test, "--text-column", "SMS", "--out", fromFolder);
        Assert.True(run.ExitCode == 0, run.Error);
        var (header, zipRows) = CliData.ReadTsv(fromZip);
        var (_, folderRows) = CliData.ReadTsv(fromFolder);
        int probability = Array.IndexOf(header, "Probability");
        for (int i = 0; i < zipRows.Count; i++)
        {
            Assert.Equal(double.Parse(zipRows[i][probability], CultureInfo.InvariantCulture),
                double.Parse(folderRows[i][probability], CultureInfo.InvariantCulture), 1e-4);
        }
    }
}
