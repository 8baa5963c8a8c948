namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>
/// Command-line mistakes (a bad value, an unknown flag or verb, no verb) get one line naming the flag and value
/// and exit code 2, as the README promises; --help still prints the help and exits 0.
/// </summary>
public sealed class CliParseErrorTests
{
    private static void AssertOneErrorLine(int code, string output, string error, params string[] mentions)
    {
        Assert.Equal(2, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got:\n{error}");
        Assert.StartsWith("error: ", lines[0]);
        foreach (var mention in mentions)
        {
            Assert.Contains(mention, lines[0]);
        }
        Assert.DoesNotContain("Usage:", output + error);
    }

    [Fact]
    public void E041_BadFlagValueNamesTheFlagAndTheValue()
    {
        var (code, output, error) = CliRunner.Run("train", "--lr", "abc");
        AssertOneErrorLine(code, output, error, "--lr", "abc");
    }

    [Fact]
    public void BadValueAmongCompleteArgumentsNamesTheFlagAndTheValue()
    {
        var (code, output, error) = CliRunner.Run("train", "--task", "binary", "--model", "m", "--data", "d.tsv", "--out", "o.zip", "--epochs", "three");
        AssertOneErrorLine(code, output, error, "--epochs", "three");
    }

    [Fact]
    public void E040_UnknownFlagIsNamed()
    {
        var (code, output, error) = CliRunner.Run("eval", "--model", "m.zip", "--data", "d.tsv", "--frobnicate", "7");
        AssertOneErrorLine(code, output, error, "--frobnicate");
    }

    [Fact]
    public void UnknownVerbIsNamedWithTheVerbs()
    {
        var (code, output, error) = CliRunner.Run("tran", "--task", "binary");
        AssertOneErrorLine(code, output, error, "tran", "train");
    }

    [Fact]
    public void NoVerbSaysWhichVerbsExist()
    {
        var (code, output, error) = CliRunner.Run();
        AssertOneErrorLine(code, output, error, "train", "predict", "--help");
    }

    [Fact]
    public void MissingRequiredFlagIsNamed()
    {
        var (code, output, error) = CliRunner.Run("merge", "--model", "m.zip");
        AssertOneErrorLine(code, output, error, "--out");
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("train", "--help")]
    [InlineData("peft", "import", "-h")]
    public void HelpStillPrintsHelpAndSucceeds(params string[] args)
    {
        var (code, output, error) = CliRunner.Run(args);
        Assert.True(code == 0, error);
        Assert.Contains("Usage:", output);
        Assert.Equal("", error.Trim());
    }
}
