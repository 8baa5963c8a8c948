using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Microsoft.ML.Lora.Tests.Cli;
using Xunit.Abstractions;

namespace Microsoft.ML.Lora.Tests.Training;

/// <summary>
/// <c>mllora train --checkpoint-dir</c> as a real child process (the built CLI, one torch thread): killed with SIGKILL
/// after its first checkpoint and started again, it resumes and ends with the same model zip as a run never killed.
/// </summary>
public sealed class ResumeAfterKillTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private sealed record Child(Process Process, StringBuilder Out, StringBuilder Error);

    private static Child Start(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "mllora.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["LORA_NUM_THREADS"] = "1";
        var child = new Child(Process.Start(start)!, new StringBuilder(), new StringBuilder());
        child.Process.OutputDataReceived += (_, e) => { lock (child.Out) { child.Out.AppendLine(e.Data); } };
        child.Process.ErrorDataReceived += (_, e) => { lock (child.Error) { child.Error.AppendLine(e.Data); } };
        child.Process.BeginOutputReadLine();
        child.Process.BeginErrorReadLine();
        return child;
    }

    private static Child RunToEnd(IEnumerable<string> args)
    {
        var child = Start(args);
        Assert.True(child.Process.WaitForExit(TimeSpan.FromMinutes(5)), "the child did not finish");
        child.Process.WaitForExit();
        Assert.True(child.Process.ExitCode == 0, $"exit {child.Process.ExitCode}: {child.Error}");
        return child;
    }

    private static Dictionary<string, byte[]> Entries(string zip)
    {
        using var archive = ZipFile.OpenRead(zip);
        return archive.Entries.ToDictionary(e => e.FullName, e =>
        {
            using var stream = e.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        });
    }

    [Fact]
    public void KilledRunResumesFromItsCheckpointToTheSameModel()
    {
        var data = CliData.SmsSubset(_dir.Path, "train.tsv", 0, 320);
        string[] Args(string zip, string? checkpoints) =>
        [
            "train", "--task", "binary", "--model", Stories260K.Folder, "--data", data, "--text-column", "SMS", "--label-column", "Label",
            "--positive-label", "spam", "--epochs", "2", "--batch-size", "4", "--targets", "all-linear", "--max-length", "48", "--seed", "5",
            "--out", zip, .. checkpoints is null ? Array.Empty<string>() : ["--checkpoint-dir", checkpoints, "--checkpoint-every", "10"],
        ];
        var straightZip = Path.Combine(_dir.Path, "straight.zip");
        RunToEnd(Args(straightZip, null));

        var checkpoints = Path.Combine(_dir.Path, "checkpoints");
        var resumedZip = Path.Combine(_dir.Path, "resumed.zip");
        var killed = Start(Args(resumedZip, checkpoints));
        var clock = Stopwatch.StartNew();
        while (!(Directory.Exists(checkpoints) && Directory.GetDirectories(checkpoints, "checkpoint-*").Length > 0))
        {
            Assert.False(killed.Process.HasExited, $"the run ended before its first checkpoint: {killed.Error}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "no checkpoint within 3 minutes");
            Thread.Sleep(2);
        }
        killed.Process.Kill();   // SIGKILL on Unix
        killed.Process.WaitForExit();
        Assert.Equal(137, killed.Process.ExitCode);
        Assert.False(File.Exists(resumedZip), "the killed run should not have finished");
        long latest = Directory.GetDirectories(checkpoints, "checkpoint-*").Max(d => long.Parse(Path.GetFileName(d)["checkpoint-".Length..], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(latest < 160, $"the run reached step {latest} of 160 before the kill");
        long reached = LastStep(killed.Out.ToString());
        Assert.InRange(reached - latest, 0, 10);   // what the kill threw away: at most one checkpoint interval

        var resumed = RunToEnd(Args(resumedZip, checkpoints));
        // The resumed run continues after the newest checkpoint: at most one interval (10 steps) of work was lost.
        var firstStep = resumed.Out.ToString().Split('\n').First(l => l.Contains(" step ", StringComparison.Ordinal));
        Assert.Contains($"step {latest + 1}/160", firstStep, StringComparison.Ordinal);

        var straight = Entries(straightZip);
        var again = Entries(resumedZip);
        Assert.Equal(straight.Keys.Order(), again.Keys.Order());
        var different = straight.Keys.Where(k => !straight[k].AsSpan().SequenceEqual(again[k])).ToList();
        Assert.True(different.Count == 0, $"entries differ after resume from step {latest}: {string.Join(", ", different)}");
        output.WriteLine($"killed at step {reached} (newest checkpoint {latest}, {reached - latest} steps lost), resumed to 160; {straight.Count} zip entries bit-identical");
    }

    private static long LastStep(string log) => log.Split('\n')
        .Select(l => System.Text.RegularExpressions.Regex.Match(l, @" step (\d+)/"))
        .Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
}
