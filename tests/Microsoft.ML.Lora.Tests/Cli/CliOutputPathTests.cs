using System.Diagnostics;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>
/// Output paths are checked before any work: an unwritable --out, an existing folder where a file goes, or an
/// existing output that would be replaced exits 2 within seconds, before the first training step.
/// </summary>
public sealed class CliOutputPathTests : IDisposable
{
    // /proc accepts no new files, even for root: a real unwritable location on Linux.
    private const string Unwritable = "/proc/mllora-cannot-write-here/model.zip";

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string TrainData()
    {
        var path = Path.Combine(_dir.Path, "train.tsv");
        File.WriteAllLines(path, new[] { "Label\tSMS" }.Concat(Enumerable.Range(0, 64).Select(i => $"{(i % 3 == 0 ? "spam" : "ham")}\tmessage number {i} about a prize")));
        return path;
    }

    private (int Code, string Out, string Error, TimeSpan Elapsed) Train(string output, params string[] extra)
    {
        var clock = Stopwatch.StartNew();
        var (code, stdout, stderr) = CliRunner.Run([
            "train", "--task", "binary", "--model", Stories260K.Folder, "--data", TrainData(), "--text-column", "SMS",
            "--epochs", "5", "--batch-size", "8", "--max-length", "32", "--out", output, .. extra]);
        return (code, stdout, stderr, clock.Elapsed);
    }

    private static void AssertRefusedBeforeTraining((int Code, string Out, string Error, TimeSpan Elapsed) run, params string[] mentions)
    {
        Assert.True(run.Code == 2, $"exit {run.Code}: {run.Error}");
        Assert.DoesNotContain("step 1/", run.Out);
        Assert.True(run.Elapsed < TimeSpan.FromSeconds(10), $"took {run.Elapsed}");
        Assert.StartsWith("error: ", run.Error);
        foreach (var mention in mentions)
        {
            Assert.Contains(mention, run.Error);
        }
    }

    [Fact]
    public void E038_UnwritableOutIsRefusedBeforeTraining() =>
        AssertRefusedBeforeTraining(Train(Unwritable), "--out", "/proc/mllora-cannot-write-here");

    [Fact]
    public void ExistingFolderAsOutIsRefusedBeforeTraining()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir.Path, "a-folder")).FullName;
        AssertRefusedBeforeTraining(Train(folder), "--out", "folder");
        Assert.True(Directory.Exists(folder));
    }

    [Fact]
    public void E039_ExistingModelIsKeptUnlessOverwriteIsGiven()
    {
        var zip = Path.Combine(_dir.Path, "model.zip");
        File.WriteAllText(zip, "an earlier model");
        AssertRefusedBeforeTraining(Train(zip), "--out", "--overwrite");
        Assert.Equal("an earlier model", File.ReadAllText(zip));

        var (code, _, error, _) = Train(zip, "--overwrite");
        Assert.True(code == 0, error);
        Assert.NotEqual("an earlier model", File.ReadAllText(zip));
    }

    [Fact]
    public void OtherVerbsCheckTheirOutputsFirst()
    {
        var data = TrainData();
        var notAZip = Path.Combine(_dir.Path, "missing.zip");
        // Each would fail later on the missing model; the output check must come first and name the flag.
        (string[] Args, string Flag)[] cases =
        [
            (["predict", "--model", notAZip, "--data", data, "--out", "/proc/mllora-x/scored.tsv"], "--out"),
            (["merge", "--model", notAZip, "--out", "/proc/mllora-x/merged"], "--out"),
            (["peft", "export", "--model", notAZip, "--out", "/proc/mllora-x/peft"], "--out"),
            (["peft", "import", "--base", Stories260K.Folder, "--adapter", _dir.Path, "--out", "/proc/mllora-x/m.zip"], "--out"),
            (["logits", "--model", Stories260K.Folder, "--token-ids", "1,2", "--out", "/proc/mllora-x/l.safetensors"], "--out"),
            (["convert", "llama2c", "--checkpoint", notAZip, "--out", "/proc/mllora-x/converted"], "--out"),
            (["sweep", "--task", "binary", "--model", Stories260K.Folder, "--data", data, "--valid", data, "--text-column", "SMS",
                "--ranks", "1,2", "--out", "/proc/mllora-x/sweep"], "--out"),
        ];
        foreach (var (args, flag) in cases)
        {
            var (code, output, error) = CliRunner.Run(args);
            Assert.True(code == 2, $"{args[0]}: exit {code}: {error}");
            Assert.Contains(flag, error);
            Assert.Contains("/proc/mllora-x", error);
            Assert.DoesNotContain("step 1/", output);
        }
    }

    [Fact]
    public void MergeRefusesAFolderThatHoldsFiles()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir.Path, "merged")).FullName;
        File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
        var (code, _, error) = CliRunner.Run("merge", "--model", Path.Combine(_dir.Path, "missing.zip"), "--out", folder);
        Assert.Equal(2, code);
        Assert.Contains("--overwrite", error);
        Assert.Equal("{}", File.ReadAllText(Path.Combine(folder, "config.json")));
    }
}
