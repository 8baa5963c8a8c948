using Microsoft.ML;
using Microsoft.ML.Lora.MLNet;

namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>The zip references its base model by folder and fingerprint, or embeds it.</summary>
public sealed class BaseModelReferenceTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MLContext _ml = new(seed: 3);

    public void Dispose() => _dir.Dispose();

    private (string Zip, string BaseFolder) TrainAndSave(bool embed)
    {
        var baseFolder = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(_dir.Path, embed ? "base-e" : "base"), seed: 5);
        var data = _ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, seed: 1));
        using var model = _ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
        {
            BaseModelPath = baseFolder, NumberOfEpochs = 1, BatchSize = 16, EmbedBaseModel = embed,
        }).Fit(data);
        var zip = Path.Combine(_dir.Path, embed ? "embedded.zip" : "referenced.zip");
        _ml.Model.Save(model, data.Schema, zip);
        return (zip, baseFolder);
    }

    private sealed class Score
    {
        public float Probability { get; set; }
    }

    [Fact]
    public void E027_MissingBaseFolderIsATypedErrorNamingTheExpectedBase()
    {
        var (zip, baseFolder) = TrainAndSave(embed: false);
        var fingerprint = ModelFingerprint.OfFolder(baseFolder);
        Directory.Move(baseFolder, baseFolder + "-moved");
        var error = Assert.Throws<BaseModelNotFoundException>(() => new MLContext().Model.LoadWithLora(zip, out _));
        // Plain Model.Load reports the same error wrapped by ML.NET's reflection call.
        var wrapped = Assert.Throws<System.Reflection.TargetInvocationException>(() => new MLContext().RegisterLora().Model.Load(zip, out _));
        Assert.IsType<BaseModelNotFoundException>(wrapped.GetBaseException());
        Assert.Contains(baseFolder, error.Message);
        Assert.Contains(fingerprint, error.Message);

        // Found again through the search path.
        BaseModelResolver.SearchPaths.Add(Path.GetDirectoryName(baseFolder)!);
        try
        {
            Directory.Move(baseFolder + "-moved", Path.Combine(_dir.Path, "renamed-base"));
            using var loaded = (IDisposable)new MLContext().RegisterLora().Model.Load(zip, out _);
        }
        finally
        {
            BaseModelResolver.SearchPaths.Remove(Path.GetDirectoryName(baseFolder)!);
        }
    }

    [Fact]
    public void E028_ChangedBaseFingerprintIsATypedError()
    {
        var (zip, baseFolder) = TrainAndSave(embed: false);
        TinyModels.WriteLlamaWithGpt2Tokenizer(baseFolder, seed: 99); // same shapes, other weights
        var error = Assert.Throws<BaseModelMismatchException>(() => new MLContext().Model.LoadWithLora(zip, out _));
        Assert.Equal(baseFolder, error.Folder);
    }

    [Fact]
    public void EmbeddedBaseLoadsWithoutTheBaseFolder()
    {
        var (zip, baseFolder) = TrainAndSave(embed: true);
        var ml = new MLContext().RegisterLora();
        var row = new SentimentRows.BinaryRow { Text = "the film was great" };
        float before;
        using (var loaded = (IDisposable)ml.Model.Load(zip, out _))
        {
            before = ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>((ITransformer)loaded).Predict(row).Probability;
        }
        Directory.Delete(baseFolder, recursive: true);
        using var again = (IDisposable)ml.Model.Load(zip, out _);
        float after = ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>((ITransformer)again).Predict(row).Probability;
        Assert.Equal(before, after);
    }

    [Fact]
    public void FingerprintOfAOneGigabyteFolderIsCheap()
    {
        var folder = Path.Combine(_dir.Path, "big");
        Directory.CreateDirectory(folder);
        using (var f = File.Create(Path.Combine(folder, "model.safetensors")))
        {
            f.SetLength(1L << 30); // sparse: the sampled reads are what is measured
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ModelFingerprint.OfFolder(folder);
        Assert.True(clock.Elapsed.TotalSeconds < 1, $"fingerprint took {clock.Elapsed.TotalSeconds:F2} s");
    }
}
