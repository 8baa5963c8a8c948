using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet;

namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>The walking skeleton: Fit → Model.Save → Model.Load → PredictionEngine on a tiny Llama.</summary>
public sealed class FitSaveLoadTests : IClassFixture<FitSaveLoadTests.TrainedModel>
{
    private readonly TrainedModel _trained;

    public FitSaveLoadTests(TrainedModel trained) => _trained = trained;

    /// <summary>One model trained once for all the tests of this class.</summary>
    public sealed class TrainedModel : IDisposable
    {
        public TempDirectory Dir { get; } = new();
        public MLContext Ml { get; } = new(seed: 7);
        public string BaseFolder { get; }
        public IDataView Train { get; }
        public IDataView Test { get; }
        public ITransformer Model { get; }
        public string ZipPath { get; }

        public TrainedModel()
        {
            BaseFolder = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(Dir.Path, "base"));
            Train = Ml.Data.LoadFromEnumerable(SentimentRows.Multiclass(96, seed: 1));
            Test = Ml.Data.LoadFromEnumerable(SentimentRows.Multiclass(32, seed: 2));
            var pipeline = Ml.Transforms.Conversion.MapValueToKey("Label")
                .Append(Ml.MulticlassClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
                {
                    BaseModelPath = BaseFolder,
                    NumberOfEpochs = 4,
                    BatchSize = 16,
                    LearningRate = 5e-3,
                    Rank = 4,
                    Alpha = 8,
                    TargetModules = "all-linear",
                }));
            Model = pipeline.Fit(Train);
            ZipPath = Path.Combine(Dir.Path, "model.zip");
            Ml.Model.Save(Model, Train.Schema, ZipPath);
        }

        public void Dispose()
        {
            (Model as IDisposable)?.Dispose();
            Dir.Dispose();
        }
    }

    [Fact]
    public void LearnsTheToyTaskAndEvaluatesWithMlNet()
    {
        var metrics = _trained.Ml.MulticlassClassification.Evaluate(_trained.Model.Transform(_trained.Test));
        Assert.True(metrics.MicroAccuracy >= 0.9, $"accuracy {metrics.MicroAccuracy}");
    }

    [Fact]
    public void SavedAndLoadedModelGivesTheSameScores()
    {
        var ml = new MLContext(seed: 1).RegisterLora();
        var loaded = ml.Model.Load(_trained.ZipPath, out var schema);
        try
        {
            var before = _trained.Ml.Model.CreatePredictionEngine<SentimentRows.Row, SentimentRows.Prediction>(_trained.Model);
            var after = ml.Model.CreatePredictionEngine<SentimentRows.Row, SentimentRows.Prediction>(loaded);
            foreach (var row in SentimentRows.Multiclass(10, seed: 3))
            {
                var p = before.Predict(row);
                var q = after.Predict(row);
                Assert.Equal(p.PredictedLabel, q.PredictedLabel);
                Assert.Equal(p.Score.Length, q.Score.Length);
                for (int i = 0; i < p.Score.Length; i++)
                {
                    Assert.InRange(Math.Abs(p.Score[i] - q.Score[i]), 0, 1e-6);
                }
            }
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void BatchedTransformEqualsPredictionEngine()
    {
        var rows = SentimentRows.Multiclass(20, seed: 4);
        var engine = _trained.Ml.Model.CreatePredictionEngine<SentimentRows.Row, SentimentRows.Prediction>(_trained.Model);
        var batched = _trained.Ml.Data.CreateEnumerable<SentimentRows.Prediction>(_trained.Model.Transform(_trained.Ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToList();
        for (int i = 0; i < rows.Count; i++)
        {
            var single = engine.Predict(rows[i]);
            Assert.Equal(single.PredictedLabel, batched[i].PredictedLabel);
            for (int k = 0; k < single.Score.Length; k++)
            {
                Assert.InRange(Math.Abs(single.Score[k] - batched[i].Score[k]), 0, 1e-5);
            }
        }
    }

    [Fact]
    public void ZipHoldsAdapterTokenizerAndManifestEntries()
    {
        using var zip = ZipFile.OpenRead(_trained.ZipPath);
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains(names, n => n.EndsWith("/Adapter.safetensors", StringComparison.Ordinal));
        Assert.Contains(names, n => n.EndsWith("/Tokenizer.vocab.json", StringComparison.Ordinal));
        Assert.Contains(names, n => n.EndsWith("/Tokenizer.merges.txt", StringComparison.Ordinal));
        Assert.DoesNotContain(names, n => n.EndsWith("/Base.model.safetensors", StringComparison.Ordinal));
        var adapter = zip.Entries.Single(e => e.FullName.EndsWith("/Adapter.safetensors", StringComparison.Ordinal));
        Assert.True(adapter.Length < 200_000, $"adapter entry is {adapter.Length} bytes: the base weights must not be in it");
    }

    [Fact]
    public void PredictedLabelKeepsTheLabelKeyValues()
    {
        var scored = _trained.Model.Transform(_trained.Test);
        var column = scored.Schema["PredictedLabel"];
        VBuffer<ReadOnlyMemory<char>> keys = default;
        column.GetKeyValues(ref keys);
        Assert.Equal(new[] { "neg", "pos" }, keys.DenseValues().Select(k => k.ToString()).Order());
    }
}
