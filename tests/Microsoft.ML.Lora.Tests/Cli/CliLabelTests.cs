namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>
/// Labels on the command line: a positive label that no row has is refused, predictions come back in the label's
/// own values with the input columns untouched, and a missing column names the columns that exist.
/// </summary>
public sealed class CliLabelTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void E034_PositiveLabelThatNoRowHasIsRefusedNamingTheValuesSeen()
    {
        var train = CliData.SmsSubset(_dir.Path, "train.tsv", 0, 64);
        var (code, output, error) = CliRunner.Run("train", "--task", "binary", "--model", Stories260K.Folder, "--data", train,
            "--text-column", "SMS", "--positive-label", "junk", "--epochs", "1", "--out", Path.Combine(_dir.Path, "m.zip"));
        Assert.Equal(2, code);
        Assert.DoesNotContain("step 1/", output);
        Assert.Contains("'junk'", error);
        Assert.Contains("ham", error);
        Assert.Contains("spam", error);
        Assert.Contains("Label", error);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "m.zip")));
    }

    [Fact]
    public void E035_LabelsOfOneClassOnlyAreRefused()
    {
        var train = Path.Combine(_dir.Path, "all-ham.tsv");
        File.WriteAllLines(train, new[] { "Label\tSMS" }.Concat(Enumerable.Range(0, 20).Select(i => $"ham\tmessage {i}")));
        var (code, output, error) = CliRunner.Run("train", "--task", "binary", "--model", Stories260K.Folder, "--data", train,
            "--text-column", "SMS", "--epochs", "1", "--out", Path.Combine(_dir.Path, "m.zip"));
        Assert.Equal(2, code);
        Assert.DoesNotContain("step 1/", output);
        Assert.Contains("ham", error);
        Assert.Contains("Label", error);
    }

    [Fact]
    public void PredictKeepsInputColumnsAndPrintsTheLabelsOwnValues()
    {
        var zip = CliData.TrainSpamZip(_dir.Path);
        // Values a reader could be tempted to normalise: padding, quotes, an empty field, non-ASCII.
        var input = Path.Combine(_dir.Path, "new.tsv");
        string[] lines =
        [
            "Label\tSMS\tId",
            "spam\tWINNER!! Claim your \"free\" prize now\t 007",
            "ham\t  see you at 5, ok?  \tA",
            " ham \tCafé later? ☕\t",
            "\tno label at all\t42",
        ];
        File.WriteAllLines(input, lines);
        var scored = Path.Combine(_dir.Path, "scored.tsv");
        var (code, _, error) = CliRunner.Run("predict", "--model", zip, "--data", input, "--out", scored);
        Assert.True(code == 0, error);

        var (header, rows) = CliData.ReadTsv(scored);
        Assert.Equal(["Label", "SMS", "Id", "Score", "Probability", "PredictedLabel"], header);
        Assert.Equal(lines.Length - 1, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal(lines[i + 1], string.Join('\t', rows[i].Take(3)));
            float probability = float.Parse(rows[i][4], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(probability > 0.5f ? "spam" : "ham", rows[i][5]);
        }
    }

    [Fact]
    public void EvalReadsTheLabelValuesTheZipRecorded()
    {
        var zip = CliData.TrainSpamZip(_dir.Path);
        var test = CliData.SmsSubset(_dir.Path, "test.tsv", 96, 40);
        var withFlag = CliRunner.Run("eval", "--model", zip, "--data", test, "--positive-label", "spam", "--json");
        var withoutFlag = CliRunner.Run("eval", "--model", zip, "--data", test, "--json");
        Assert.True(withFlag.ExitCode == 0, withFlag.Error);
        Assert.True(withoutFlag.ExitCode == 0, withoutFlag.Error);
        Assert.Equal(withFlag.Out, withoutFlag.Out);
    }

    [Fact]
    public void MissingTextColumnListsTheColumnsThatExist()
    {
        var train = CliData.SmsSubset(_dir.Path, "train.tsv", 0, 64);
        var (code, _, error) = CliRunner.Run("train", "--task", "binary", "--model", Stories260K.Folder, "--data", train,
            "--text-column", "Message", "--positive-label", "spam", "--out", Path.Combine(_dir.Path, "m.zip"));
        Assert.Equal(2, code);
        Assert.Contains("'Message'", error);
        Assert.Contains("Label, SMS", error);
    }

    [Fact]
    public void MissingTextColumnAtPredictListsTheColumnsThatExist()
    {
        var zip = CliData.TrainSpamZip(_dir.Path);
        var input = Path.Combine(_dir.Path, "other.tsv");
        File.WriteAllLines(input, ["Body\tKind", "hello\tham"]);
        var (code, _, error) = CliRunner.Run("predict", "--model", zip, "--data", input, "--out", Path.Combine(_dir.Path, "s.tsv"));
        Assert.Equal(2, code);
        Assert.Contains("'SMS'", error);
        Assert.Contains("Body, Kind", error);
    }
}
