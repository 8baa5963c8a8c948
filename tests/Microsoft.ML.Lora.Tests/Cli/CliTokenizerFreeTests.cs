using Microsoft.ML.Lora.Checkpoints;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>
/// Verbs that never encode or decode text (logits of token ids, PEFT import, merge) work on a model folder
/// without tokenizer files; a verb that needs text says the tokenizer is missing.
/// </summary>
public sealed class CliTokenizerFreeTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>stories260K with config and weights only.</summary>
    private string WithoutTokenizer()
    {
        var folder = Stories260K.CopyTo(_dir.Path, "no-tokenizer");
        foreach (var file in HfModelWriter.TokenizerFileNames)
        {
            File.Delete(Path.Combine(folder, file));
        }
        return folder;
    }

    private static float[] Logits(string file)
    {
        using var logits = SafetensorsFile.Open(file);
        using var tensor = logits.ReadTensor(logits.Entries.Single().Name, ScalarType.Float32);
        return tensor.data<float>().ToArray();
    }

    private float[] LogitsOf(string model, string name)
    {
        var file = Path.Combine(_dir.Path, name);
        var (code, _, error) = CliRunner.Run("logits", "--model", model, "--token-ids", "1,403,407,261", "--out", file);
        Assert.True(code == 0, error);
        return Logits(file);
    }

    [Fact]
    public void LogitsOfTokenIdsNeedNoTokenizer()
    {
        var bare = WithoutTokenizer();
        Assert.Equal(LogitsOf(Stories260K.Folder, "with.safetensors"), LogitsOf(bare, "without.safetensors"));
    }

    [Fact]
    public void PeftImportAndMergeNeedNoTokenizer()
    {
        var bare = WithoutTokenizer();
        var text = Path.Combine(_dir.Path, "stories.tsv");
        File.WriteAllLines(text, new[] { "Text" }.Concat(Enumerable.Range(0, 16).Select(i => $"Once upon a time there was a cat number {i}.")));
        var trained = Path.Combine(_dir.Path, "lm.zip");
        var (code, _, error) = CliRunner.Run("train", "--task", "causal-lm", "--model", Stories260K.Folder, "--data", text,
            "--epochs", "1", "--batch-size", "8", "--lr", "1e-2", "--out", trained);
        Assert.True(code == 0, error);
        var peft = Path.Combine(_dir.Path, "peft");
        (code, _, error) = CliRunner.Run("peft", "export", "--model", trained, "--out", peft);
        Assert.True(code == 0, error);

        var imported = Path.Combine(_dir.Path, "imported.zip");
        (code, _, error) = CliRunner.Run("peft", "import", "--base", bare, "--adapter", peft, "--out", imported);
        Assert.True(code == 0, error);
        Assert.Equal(LogitsOf(trained, "trained.safetensors"), LogitsOf(imported, "imported.safetensors"));

        var merged = Path.Combine(_dir.Path, "merged");
        (code, _, error) = CliRunner.Run("merge", "--model", imported, "--out", merged);
        Assert.True(code == 0, error);
        var fromMerged = LogitsOf(merged, "merged.safetensors");
        var fromAdapter = LogitsOf(imported, "adapter.safetensors");
        Assert.Equal(fromAdapter.Length, fromMerged.Length);
        Assert.True(fromAdapter.Zip(fromMerged).Max(p => Math.Abs(p.First - p.Second)) < 1e-4);
        Assert.False(File.Exists(Path.Combine(merged, "tokenizer.model")));
    }

    [Fact]
    public void TextNeedsTheTokenizerAndSaysSo()
    {
        var (code, _, error) = CliRunner.Run("generate", "--model", WithoutTokenizer(), "--prompt", "Once upon a time");
        Assert.Equal(2, code);
        Assert.Contains("tokenizer", error);
    }
}
