using Microsoft.ML;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>Several adapters trained and served on one loaded base (multi-adapter serving, sweeps).</summary>
public sealed class SharedBaseTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MLContext _ml = new(seed: 11);

    public void Dispose() => _dir.Dispose();

    private sealed class Score
    {
        public float Probability { get; set; }
    }

    [Fact]
    public void TwoAdaptersOnOneBaseEachScoreAsIfAlone()
    {
        var folder = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(_dir.Path, "base"));
        using var shared = LoraBaseModel.Load(folder);
        var positive = _ml.Data.LoadFromEnumerable(SentimentRows.Binary(48, seed: 1));
        var flipped = _ml.Data.LoadFromEnumerable(SentimentRows.Binary(48, seed: 1).Select(r => new SentimentRows.BinaryRow { Text = r.Text, Label = !r.Label }));
        LoraFineTuneOptions Options() => new() { BaseModel = shared, NumberOfEpochs = 3, BatchSize = 16, LearningRate = 5e-3, TargetModules = "all-linear" };
        using var first = _ml.BinaryClassification.Trainers.LoraFineTune(Options()).Fit(positive);
        using var second = _ml.BinaryClassification.Trainers.LoraFineTune(Options()).Fit(flipped);
        Assert.Equal(2, shared.Lora.Adapters.Count);

        var row = new SentimentRows.BinaryRow { Text = "the book was wonderful" };
        var e1 = _ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>(first);
        var e2 = _ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>(second);
        float p1 = e1.Predict(row).Probability, p2 = e2.Predict(row).Probability;
        Assert.True(p1 > 0.5 && p2 < 0.5, $"the adapters learned opposite labels: {p1:F3} vs {p2:F3}");
        // Interleaved calls switch adapters on the shared base and give the same answers again.
        Assert.Equal(p1, e1.Predict(row).Probability);
        Assert.Equal(p2, e2.Predict(row).Probability);

        // Each saved model reloads alone (its own base copy) and agrees with the shared-base scores.
        var zip = Path.Combine(_dir.Path, "second.zip");
        _ml.Model.Save(second, positive.Schema, zip);
        using var reloaded = (IDisposable)new MLContext().RegisterLora().Model.Load(zip, out _);
        Assert.Equal(p2, _ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>((ITransformer)reloaded).Predict(row).Probability, 5);
    }

    private sealed class RoutedRow
    {
        public string Text { get; set; } = "";
        public string Adapter { get; set; } = "";
    }

    private sealed class RoutedScore
    {
        public string Adapter { get; set; } = "";
        public float Probability { get; set; }
    }

    [Fact]
    public void RouterScoresEachRowWithTheAdapterItNames()
    {
        var folder = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(_dir.Path, "base3"));
        using var shared = LoraBaseModel.Load(folder);
        var data = _ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, seed: 5));
        var flipped = _ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, seed: 5).Select(r => new SentimentRows.BinaryRow { Text = r.Text, Label = !r.Label }));
        LoraFineTuneOptions Options() => new() { BaseModel = shared, NumberOfEpochs = 2, BatchSize = 16, LearningRate = 5e-3 };
        using var a = _ml.BinaryClassification.Trainers.LoraFineTune(Options()).Fit(data);
        using var b = _ml.BinaryClassification.Trainers.LoraFineTune(Options()).Fit(flipped);
        var router = new LoraAdapterRouter("Adapter", new Dictionary<string, LoraFineTuneTransformer> { ["sentiment"] = a, ["inverse"] = b });

        var texts = SentimentRows.Binary(12, seed: 6).Select(r => r.Text).ToList();
        var rows = texts.Select((t, i) => new RoutedRow { Text = t, Adapter = i % 3 == 0 ? "inverse" : "sentiment" }).ToList();
        var routed = _ml.Data.CreateEnumerable<RoutedScore>(router.Transform(_ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToList();
        var alone = new Dictionary<string, ITransformer> { ["sentiment"] = a, ["inverse"] = b };
        for (int i = 0; i < rows.Count; i++)
        {
            var engine = _ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>(alone[rows[i].Adapter]);
            Assert.Equal(engine.Predict(new SentimentRows.BinaryRow { Text = rows[i].Text }).Probability, routed[i].Probability, 5);
        }
        var unknown = _ml.Data.LoadFromEnumerable(new[] { new RoutedRow { Text = "x", Adapter = "legal" } });
        var error = Assert.Throws<ArgumentException>(() => router.Transform(unknown));
        Assert.Contains("legal", error.Message);
    }

    [Fact]
    public void ZipsOverOneBaseShareItsWeightsWhenLoaded()
    {
        var folder = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(_dir.Path, "base4"));
        var data = _ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, seed: 7));
        var flipped = _ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, seed: 7).Select(r => new SentimentRows.BinaryRow { Text = r.Text, Label = !r.Label }));
        var zips = new List<string>();
        var expected = new List<float>();
        var row = new SentimentRows.BinaryRow { Text = "the trip was excellent" };
        foreach (var (set, name) in new[] { (data, "a.zip"), (flipped, "b.zip") })
        {
            // Each model is trained on its own copy of the base, so both adapters are named "default" in their zips.
            using var model = _ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions { BaseModelPath = folder, NumberOfEpochs = 2, BatchSize = 16, LearningRate = 5e-3 }).Fit(set);
            expected.Add(_ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>(model).Predict(row).Probability);
            zips.Add(Path.Combine(_dir.Path, name));
            _ml.Model.Save(model, set.Schema, zips[^1]);
        }
        var ml = new MLContext();
        var first = (LoraFineTuneTransformer)ml.Model.LoadWithLora(zips[0], out _);
        var second = (LoraFineTuneTransformer)ml.Model.LoadWithLora(zips[1], out _);
        Assert.Same(first.Model, second.Model); // one base in memory
        Assert.Equal(new[] { "default", "default_2" }, first.Model.Lora.Adapters.Keys.Order());
        Assert.Equal(expected[0], ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>(first).Predict(row).Probability, 5);
        Assert.Equal(expected[1], ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>(second).Predict(row).Probability, 5);
        second.Dispose();
        Assert.Equal(new[] { "default" }, first.Model.Lora.Adapters.Keys);
        Assert.Equal(expected[0], ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>(first).Predict(row).Probability, 5);
        first.Dispose();
    }

    [Fact]
    public void PredictionEnginesOnSeveralThreadsAgree()
    {
        var folder = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(_dir.Path, "base2"));
        var data = _ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, seed: 2));
        using var model = _ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions { BaseModelPath = folder, NumberOfEpochs = 1 }).Fit(data);
        var rows = SentimentRows.Binary(24, seed: 3);
        var expected = rows.Select(r => _ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>(model).Predict(r).Probability).ToArray();
        var results = new float[4][];
        Parallel.For(0, 4, t =>
        {
            var engine = _ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, Score>(model);
            results[t] = rows.Select(r => engine.Predict(r).Probability).ToArray();
        });
        Assert.All(results, r => Assert.Equal(expected, r));
    }
}
