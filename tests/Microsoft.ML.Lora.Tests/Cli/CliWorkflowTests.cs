using System.Text.Json;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>The mllora verbs end to end: train → predict → eval, generate, logits, peft, merge, and error exits.</summary>
public sealed class CliWorkflowTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string WriteSmsSubset(string name, int skip, int take) => CliData.SmsSubset(_dir.Path, name, skip, take);

    [Fact]
    public void TrainPredictEvalOnSmsSpam()
    {
        var train = WriteSmsSubset("train.tsv", 0, 96);
        var test = WriteSmsSubset("test.tsv", 96, 40);
        var zip = Path.Combine(_dir.Path, "spam.zip");
        var (code, output, error) = CliRunner.Run("train", "--task", "binary", "--model", Stories260K.Folder, "--data", train,
            "--text-column", "SMS", "--label-column", "Label", "--positive-label", "spam", "--epochs", "1", "--batch-size", "16",
            "--targets", "all-linear", "--max-length", "48", "--out", zip);
        Assert.True(code == 0, error);
        Assert.Contains("step 6/6", output);
        Assert.True(File.Exists(zip));

        var scored = Path.Combine(_dir.Path, "scored.tsv");
        (code, _, error) = CliRunner.Run("predict", "--model", zip, "--data", test, "--positive-label", "spam", "--out", scored);
        Assert.True(code == 0, error);
        var lines = File.ReadAllLines(scored);
        Assert.Equal("Label\tSMS\tScore\tProbability\tPredictedLabel", lines[0]);
        Assert.Equal(41, lines.Length);

        (code, output, error) = CliRunner.Run("eval", "--model", zip, "--data", test, "--positive-label", "spam", "--json");
        Assert.True(code == 0, error);
        var metrics = JsonSerializer.Deserialize<Dictionary<string, double>>(output)!;
        Assert.InRange(metrics["accuracy"], 0, 1);
        Assert.True(metrics.ContainsKey("auc"));

        var peft = Path.Combine(_dir.Path, "peft");
        (code, _, error) = CliRunner.Run("peft", "export", "--model", zip, "--out", peft);
        Assert.True(code == 0, error);
        Assert.True(File.Exists(Path.Combine(peft, "adapter_config.json")));
        var merged = Path.Combine(_dir.Path, "merged");
        (code, _, error) = CliRunner.Run("merge", "--model", zip, "--out", merged);
        Assert.True(code == 0, error);
        Assert.True(File.Exists(Path.Combine(merged, "model.safetensors")));
    }

    [Fact]
    public void GenerateAndLogitsOnTheBaseModel()
    {
        var (code, output, error) = CliRunner.Run("generate", "--model", Stories260K.Folder, "--prompt", "Once upon a time", "--max-new-tokens", "12");
        Assert.True(code == 0, error);
        Assert.StartsWith(", there was a little girl", output.TrimStart());

        var file = Path.Combine(_dir.Path, "logits.safetensors");
        (code, _, error) = CliRunner.Run("logits", "--model", Stories260K.Folder, "--token-ids", "1,403,407", "--out", file);
        Assert.True(code == 0, error);
        using var logits = Microsoft.ML.Lora.Checkpoints.SafetensorsFile.Open(file);
        Assert.Equal(new long[] { 1, 3, 512 }, logits.Entries.Single().Shape);
    }

    [Fact]
    public void BadInputExitsWithCodeTwoAndOneLine()
    {
        var (code, _, error) = CliRunner.Run("train", "--task", "binary", "--model", Stories260K.Folder, "--data", Path.Combine(_dir.Path, "missing.tsv"), "--out", "x.zip");
        Assert.Equal(2, code);
        Assert.Contains("missing.tsv", error);
        Assert.DoesNotContain("   at ", error);

        var bad = Path.Combine(_dir.Path, "bad.tsv");
        File.WriteAllLines(bad, ["Label\tSMS", "maybe\thello"]);
        (code, _, error) = CliRunner.Run("train", "--task", "binary", "--model", Stories260K.Folder, "--data", bad, "--text-column", "SMS", "--out", "x.zip");
        Assert.Equal(2, code);
        Assert.Contains("maybe", error);
        Assert.Contains("--positive-label", error);

        (code, _, error) = CliRunner.Run("train", "--task", "ranking", "--model", Stories260K.Folder, "--data", bad, "--out", "x.zip");
        Assert.Equal(2, code);
        Assert.Contains("ranking", error);
    }
}
