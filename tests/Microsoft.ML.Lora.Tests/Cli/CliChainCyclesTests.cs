using System.IO.Compression;
using Microsoft.ML.Lora.Tests.MLNet;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary><c>mllora train --chain-cycles K</c>: one loss line per cycle, every cycle in the zip, bad values exit 2.</summary>
public sealed class CliChainCyclesTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string WriteSms(int take) => CliData.SmsSubset(_dir.Path, "train.tsv", 0, take);

    private (int Code, string Out, string Error) Train(string data, string cycles, string zip) =>
        CliRunner.Run("train", "--task", "binary", "--model", Stories260K.Folder, "--data", data, "--text-column", "SMS",
            "--positive-label", "spam", "--epochs", "1", "--batch-size", "8", "--max-length", "32", "--chain-cycles", cycles, "--out", zip);

    [Fact]
    public void ThreeCyclesPrintEachCycleAndStoreEveryCycle()
    {
        var zip = Path.Combine(_dir.Path, "chain.zip");
        // 48 rows, batch 8, 1 epoch: 6 steps, 2 per cycle.
        var (code, output, error) = Train(WriteSms(48), "3", zip);
        Assert.True(code == 0, error);
        for (int c = 1; c <= 3; c++)
        {
            Assert.Contains($"chain cycle {c}/3: 2 steps, train loss ", output, StringComparison.Ordinal);
        }
        using (var archive = ZipFile.OpenRead(zip))
        {
            Assert.Equal(2, archive.Entries.Count(e => e.Name.StartsWith("Chain.", StringComparison.Ordinal)));
        }
        (code, _, error) = CliRunner.Run("peft", "export", "--model", zip, "--out", Path.Combine(_dir.Path, "peft"));
        Assert.Equal(2, code);
        Assert.Contains("--chain-cycles 3", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("9")]
    public void CyclesOutOfRangeExitWithCodeTwoNamingTheValue(string cycles)
    {
        var (code, _, error) = Train(WriteSms(48), cycles, Path.Combine(_dir.Path, "x.zip"));
        Assert.Equal(2, code);
        Assert.Contains($"ChainCycles {(cycles == "0" ? "must be at least 1" : cycles)}", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "x.zip")));
    }
}
