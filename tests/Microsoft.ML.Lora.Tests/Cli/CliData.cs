using Microsoft.ML.Lora.Tests.MLNet;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>Data files and quickly trained model zips for the CLI tests (stories260K, real SMS messages).</summary>
internal static class CliData
{
    /// <summary>Writes rows <paramref name="skip"/>.. of the shuffled SMS Spam Collection as "Label TAB SMS" (spam/ham).</summary>
    public static string SmsSubset(string folder, string name, int skip, int take)
    {
        var path = Path.Combine(folder, name);
        var rows = RealDataSets.Shuffled(RealDataSets.SmsSpam(), seed: 7).Skip(skip).Take(take);
        File.WriteAllLines(path, new[] { "Label\tSMS" }.Concat(rows.Select(r => $"{(r.Label ? "spam" : "ham")}\t{r.Text.Replace('\t', ' ')}")));
        return path;
    }

    /// <summary>
    /// Trains a binary spam classifier on stories260K for one short epoch with <c>mllora train</c> and returns the
    /// zip's path (fails the test when training fails).
    /// </summary>
    public static string TrainSpamZip(string folder, string name = "spam.zip", string? baseModel = null, params string[] extra)
    {
        var zip = Path.Combine(folder, name);
        var train = SmsSubset(folder, "spam-train.tsv", 0, 96);
        var (code, _, error) = CliRunner.Run([
            "train", "--task", "binary", "--model", baseModel ?? Stories260K.Folder, "--data", train, "--text-column", "SMS",
            "--label-column", "Label", "--positive-label", "spam", "--epochs", "1", "--batch-size", "16", "--max-length", "48",
            "--lr", "5e-3", "--out", zip, .. extra]);
        Assert.True(code == 0, error);
        return zip;
    }

    /// <summary>Reads a TSV written by <c>mllora predict</c>: the header and the rows split on tabs.</summary>
    public static (string[] Header, List<string[]> Rows) ReadTsv(string path)
    {
        var lines = File.ReadAllLines(path);
        return (lines[0].Split('\t'), lines.Skip(1).Select(l => l.Split('\t')).ToList());
    }
}
