namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>
/// A llama2.c checkpoint or a folder without config.json given as --model gets the conversion command to run,
/// in every verb that takes a model.
/// </summary>
public sealed class CliModelPathTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Llama2cBin => SharedData.PathOf("models/stories260K/stories260K.bin");

    private string Data()
    {
        var path = Path.Combine(_dir.Path, "d.tsv");
        File.WriteAllLines(path, ["Label\tText", "spam\twin a prize", "ham\tsee you"]);
        return path;
    }

    private string[][] VerbsWith(string model) =>
    [
        ["train", "--task", "binary", "--model", model, "--data", Data(), "--out", Path.Combine(_dir.Path, "m.zip")],
        ["generate", "--model", model, "--prompt", "Once"],
        ["logits", "--model", model, "--token-ids", "1,2", "--out", Path.Combine(_dir.Path, "l.safetensors")],
        ["peft", "import", "--base", model, "--adapter", _dir.Path, "--out", Path.Combine(_dir.Path, "p.zip")],
        ["predict", "--model", model, "--data", Data(), "--out", Path.Combine(_dir.Path, "s.tsv")],
        ["eval", "--model", model, "--data", Data()],
    ];

    [Fact]
    public void Llama2cCheckpointAsModelSaysHowToConvertIt()
    {
        foreach (var args in VerbsWith(Llama2cBin))
        {
            var (code, _, error) = CliRunner.Run(args);
            Assert.True(code == 2, $"{args[0]}: exit {code}: {error}");
            Assert.Contains("llama2.c", error);
            Assert.Contains($"mllora convert llama2c --checkpoint {Llama2cBin} --tokenizer ", error);
            Assert.Contains(" --out ", error);
        }
    }

    [Fact]
    public void FolderWithoutConfigSaysWhatIsMissingAndHowToConvert()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir.Path, "not-a-model")).FullName;
        File.Copy(Llama2cBin, Path.Combine(folder, "stories260K.bin"));
        foreach (var args in VerbsWith(folder))
        {
            var (code, _, error) = CliRunner.Run(args);
            Assert.True(code == 2, $"{args[0]}: exit {code}: {error}");
            Assert.Contains("config.json", error);
            Assert.Contains("mllora convert llama2c --checkpoint ", error);
            Assert.Contains("stories260K.bin", error);
        }
    }
}
