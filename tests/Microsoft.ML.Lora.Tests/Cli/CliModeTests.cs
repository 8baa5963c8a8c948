using Microsoft.ML.Lora.Tests.MLNet;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary><c>mllora train --mode lora|head-only|full</c>: the count of trainable parameters is printed, bad values exit 2.</summary>
public sealed class CliModeTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string WriteSms(int take) => CliData.SmsSubset(_dir.Path, "train.tsv", 0, take);

    private (int Code, string Out, string Error) Train(string data, string mode, string zip) =>
        CliRunner.Run("train", "--task", "binary", "--model", Stories260K.Folder, "--data", data, "--text-column", "SMS",
            "--positive-label", "spam", "--epochs", "1", "--batch-size", "16", "--max-length", "32", "--mode", mode, "--out", zip);

    [Fact]
    public void EachModePrintsItsTrainableParameters()
    {
        var data = WriteSms(32);
        // stories260K: dim 64, 5 layers, q_proj [64, 64] and v_proj [32, 64] (4 of 8 KV heads); the score head is [2, 64] without bias.
        var (code, output, error) = Train(data, "head-only", Path.Combine(_dir.Path, "head.zip"));
        Assert.True(code == 0, error);
        Assert.Contains("mode head-only: trainable params: 128 ||", output, StringComparison.Ordinal);

        (code, output, error) = Train(data, "lora", Path.Combine(_dir.Path, "lora.zip"));
        Assert.True(code == 0, error);
        long lora = 5 * (8 * 64 + 64 * 8 + 8 * 64 + 32 * 8) + 128;
        Assert.Contains($"mode lora: trainable params: {lora:N0} ||", output, StringComparison.Ordinal);

        (code, output, error) = Train(data, "full", Path.Combine(_dir.Path, "full.zip"));
        Assert.True(code == 0, error);
        Assert.Contains("trainable%: 100.0000", output, StringComparison.Ordinal);

        (code, _, error) = CliRunner.Run("peft", "export", "--model", Path.Combine(_dir.Path, "head.zip"), "--out", Path.Combine(_dir.Path, "peft"));
        Assert.Equal(2, code);
        Assert.Contains("no LoRA adapter", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownModeExitsWithCodeTwo()
    {
        var (code, _, error) = Train(WriteSms(8), "partial", Path.Combine(_dir.Path, "x.zip"));
        Assert.Equal(2, code);
        Assert.Contains("--mode 'partial'", error, StringComparison.Ordinal);
        Assert.Contains("head-only", error, StringComparison.Ordinal);
    }
}
