using System.IO.Compression;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tests.Cli;
using Microsoft.ML.Lora.Tests.MLNet;

namespace Microsoft.ML.Lora.Tests.Security;

/// <summary>
/// Hostile model zips built in the test from a real saved model: an entry that climbs out of the archive, one with
/// an absolute name, and zip bombs are refused with <see cref="UnsafeModelZipException"/> naming the entry, by
/// every reader (<c>LoadWithLora</c>, <see cref="LoraModelZip.Describe"/>, the CLI) before anything is extracted.
/// </summary>
public sealed class HostileZipTests : IClassFixture<HostileZipTests.SavedZip>
{
    private readonly SavedZip _saved;

    public HostileZipTests(SavedZip saved) => _saved = saved;

    /// <summary>A tiny model trained and saved once for the class.</summary>
    public sealed class SavedZip : IDisposable
    {
        public TempDirectory Dir { get; } = new();
        public string ZipPath { get; }

        public SavedZip()
        {
            var ml = new MLContext(seed: 3);
            var baseFolder = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(Dir.Path, "base"));
            var data = ml.Data.LoadFromEnumerable(SentimentRows.Binary(16, seed: 1));
            using var model = ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
            {
                BaseModelPath = baseFolder, NumberOfEpochs = 1, BatchSize = 8, Rank = 2,
            }).Fit(data);
            ZipPath = Path.Combine(Dir.Path, "model.zip");
            ml.Model.Save(model, data.Schema, ZipPath);
        }

        /// <summary>A copy of the saved zip with one more entry.</summary>
        public string WithEntry(string name, byte[] content, CompressionLevel level = CompressionLevel.Optimal)
        {
            var path = Path.Combine(Dir.Path, $"hostile-{Guid.NewGuid():N}.zip");
            File.Copy(ZipPath, path);
            using var archive = ZipFile.Open(path, ZipArchiveMode.Update);
            using var stream = archive.CreateEntry(name, level).Open();
            stream.Write(content);
            return path;
        }

        public void Dispose() => Dir.Dispose();
    }

    public static TheoryData<string> ClimbingNames => new()
    {
        "../evil.txt", "TransformerChain/../../evil.txt", "..\\evil.txt", "/etc/evil.txt", "\\evil.txt", "C:/evil.txt",
    };

    [Theory]
    [MemberData(nameof(ClimbingNames))]
    public void E022_ModelZipEntryLeavingTheArchiveIsRefusedNamingTheEntry(string name)
    {
        var zip = _saved.WithEntry(name, "x"u8.ToArray());
        var e = Assert.Throws<UnsafeModelZipException>(() => new MLContext().Model.LoadWithLora(zip, out _));
        Assert.Equal(name, e.EntryName);
        Assert.Contains(name, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EntryLeavingTheArchiveIsRefusedByDescribeAndByTheCli()
    {
        var zip = _saved.WithEntry("../evil.txt", "x"u8.ToArray());
        Assert.Throws<UnsafeModelZipException>(() => LoraModelZip.Describe(zip));
        var (code, _, error) = CliRunner.Run("inspect", zip);
        Assert.Equal(2, code);
        Assert.Contains("'../evil.txt' is refused", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), "evil.txt")));
    }

    [Fact]
    public void E023_ModelZipBombIsRefusedByItsCompressionRatio()
    {
        var zip = _saved.WithEntry("TransformerChain/Bomb.bin", new byte[64 << 20]);
        var e = Assert.Throws<UnsafeModelZipException>(() => new MLContext().Model.LoadWithLora(zip, out _));
        Assert.Equal("TransformerChain/Bomb.bin", e.EntryName);
        Assert.Contains("zip bomb", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void E024_ModelZipEntryLargerThanTheLimitIsRefused()
    {
        var zip = _saved.WithEntry("TransformerChain/Big.bin", Random.Shared.GetItems<byte>(new byte[256], 4 << 20), CompressionLevel.NoCompression);
        var e = Assert.Throws<UnsafeModelZipException>(() => ModelZipGuard.Check(zip, new ModelZipLimits { MaxEntryBytes = 1 << 20 }));
        Assert.Equal("TransformerChain/Big.bin", e.EntryName);
        Assert.Contains(nameof(ModelZipLimits.MaxEntryBytes), e.Message, StringComparison.Ordinal);
        var total = Assert.Throws<UnsafeModelZipException>(() => ModelZipGuard.Check(zip, new ModelZipLimits { MaxTotalBytes = 2 << 20 }));
        Assert.Contains(nameof(ModelZipLimits.MaxTotalBytes), total.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HonestModelZipPassesTheGuardAndLoads()
    {
        ModelZipGuard.Check(_saved.ZipPath);
        var model = new MLContext().Model.LoadWithLora(_saved.ZipPath, out _);
        Assert.NotNull(LoraFineTuneTransformer.FindIn(model));
        (model as IDisposable)?.Dispose();
    }

    [Fact]
    public void E025_TruncatedModelZipIsRefusedAsNotAZip()
    {
        var zip = Path.Combine(_saved.Dir.Path, "truncated.zip");
        File.WriteAllBytes(zip, File.ReadAllBytes(_saved.ZipPath)[..^300]);
        var e = Assert.Throws<InvalidDataException>(() => new MLContext().Model.LoadWithLora(zip, out _));
        Assert.Contains("is not a zip file", e.Message, StringComparison.Ordinal);
        Assert.Contains(zip, e.Message, StringComparison.Ordinal);
        var (code, _, error) = CliRunner.Run("inspect", zip);
        Assert.Equal(2, code);
        Assert.Contains("not a zip", error, StringComparison.Ordinal);
    }

    [Fact]
    public void E026_ModelZipWithoutALoraModelIsRefused()
    {
        var ml = new MLContext();
        var data = ml.Data.LoadFromEnumerable(SentimentRows.Binary(4, seed: 1));
        var plain = Path.Combine(_saved.Dir.Path, "plain.zip");
        ml.Model.Save(ml.Transforms.CopyColumns("Copy", "Text").Fit(data), data.Schema, plain);
        var e = Assert.Throws<InvalidDataException>(() => LoraModelZip.Describe(plain));
        Assert.Contains("without a LoRA fine-tuned transformer", e.Message, StringComparison.Ordinal);
        var (code, _, error) = CliRunner.Run("peft", "export", "--model", plain, "--out", Path.Combine(_saved.Dir.Path, "never"));
        Assert.Equal(2, code);
        Assert.Contains("holds no LoRA fine-tuned model", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_saved.Dir.Path, "never")));
    }

    [Theory]
    [InlineData("../evil.json")]
    [InlineData("sub/tokenizer.json")]
    [InlineData("..")]
    public void E044_ManifestNamingATokenizerFileOutsideTheModelIsRefused(string name)
    {
        using var model = (IDisposable)new MLContext().Model.LoadWithLora(_saved.ZipPath, out _);
        var manifest = LoraFineTuneTransformer.FindIn((ITransformer)model)!.Manifest;
        var json = (manifest with { TokenizerFiles = [name] }).ToJson();
        var e = Assert.Throws<InvalidDataException>(() => Microsoft.ML.Lora.MLNet.Persistence.LoraModelManifest.FromJson(json, "model zip"));
        Assert.Contains($"'{name}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("not a plain file name", e.Message, StringComparison.Ordinal);
    }
}
