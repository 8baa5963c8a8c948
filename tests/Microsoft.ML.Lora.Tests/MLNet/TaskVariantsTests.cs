using Microsoft.ML;
using Microsoft.ML.Lora.MLNet;

namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>Regression, sentence pairs and truncation, evaluated with ML.NET's own evaluators.</summary>
public sealed class TaskVariantsTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MLContext _ml = new(seed: 2);
    private readonly string _base;

    public TaskVariantsTests() => _base = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(_dir.Path, "base"));

    public void Dispose() => _dir.Dispose();

    private sealed class PairRow
    {
        public string Premise { get; set; } = "";
        public string Hypothesis { get; set; } = "";
        public bool Label { get; set; }
    }

    [Fact]
    public void RegressionLearnsAndEvaluates()
    {
        var rows = SentimentRows.Binary(64, 3).Select(r => new SentimentRows.RegressionRow { Text = r.Text, Label = r.Label ? 4f : 1f }).ToList();
        var data = _ml.Data.LoadFromEnumerable(rows);
        using var model = _ml.Regression.Trainers.LoraFineTune(new LoraFineTuneOptions
        {
            BaseModelPath = _base, NumberOfEpochs = 6, BatchSize = 16, LearningRate = 1e-2, TargetModules = "all-linear",
        }).Fit(data);
        var metrics = _ml.Regression.Evaluate(model.Transform(data));
        Assert.True(metrics.RootMeanSquaredError < 1.0, $"RMSE {metrics.RootMeanSquaredError:F3} (predicting the mean gives 1.5)");
    }

    [Fact]
    public void SentencePairsReadBothColumns()
    {
        // The label depends on the second text only: a model that ignored it could not learn this.
        var random = new Random(4);
        var rows = Enumerable.Range(0, 64).Select(_ =>
        {
            bool label = random.Next(2) == 0;
            return new PairRow { Premise = "the film was", Hypothesis = label ? "great" : "awful", Label = label };
        }).ToList();
        var data = _ml.Data.LoadFromEnumerable(rows);
        using var model = _ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
        {
            BaseModelPath = _base, TextColumnName = "Premise", Text2ColumnName = "Hypothesis",
            NumberOfEpochs = 4, BatchSize = 16, LearningRate = 1e-2,
        }).Fit(data);
        Assert.True(_ml.BinaryClassification.Evaluate(model.Transform(data)).Accuracy > 0.9);
    }

    [Fact]
    public void Bf16PrecisionKeepsFrozenWeightsInBf16AndRoundTrips()
    {
        var data = _ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, 2));
        using var model = _ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
        {
            BaseModelPath = _base, NumberOfEpochs = 2, BatchSize = 16, LearningRate = 5e-3, Precision = LoraPrecision.BFloat16,
        }).Fit(data);
        var parameters = model.Model.Model.named_parameters().ToList();
        Assert.Equal(TorchSharp.torch.ScalarType.BFloat16, parameters.Single(p => p.name == "model.layers.0.self_attn.q_proj.weight").parameter.dtype);
        Assert.All(parameters.Where(p => p.name.Contains(".lora_", StringComparison.Ordinal)), p => Assert.Equal(TorchSharp.torch.ScalarType.Float32, p.parameter.dtype));
        var zip = Path.Combine(_dir.Path, "bf16.zip");
        _ml.Model.Save(model, data.Schema, zip);
        using var loaded = (LoraFineTuneTransformer)new MLContext().Model.LoadWithLora(zip, out _);
        var row = new SentimentRows.BinaryRow { Text = "my day was lovely" };
        Assert.Equal(
            _ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, ProbabilityOnly>(model).Predict(row).Probability,
            _ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, ProbabilityOnly>(loaded).Predict(row).Probability, 5);
    }

    [Fact]
    public void TextsLongerThanTheMaximumAreTruncatedNotRejected()
    {
        var data = _ml.Data.LoadFromEnumerable(SentimentRows.Binary(16, 1));
        using var model = _ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
        {
            BaseModelPath = _base, NumberOfEpochs = 1, MaxSequenceLength = 8,
        }).Fit(data);
        var longText = string.Join(' ', Enumerable.Repeat("the film was great", 200)); // ~800 tokens > 256 positions
        var engine = _ml.Model.CreatePredictionEngine<SentimentRows.BinaryRow, ProbabilityOnly>(model);
        var p = engine.Predict(new SentimentRows.BinaryRow { Text = longText }).Probability;
        Assert.InRange(p, 0, 1);
        // Right truncation keeps the first 8 tokens: the long text scores like its own prefix.
        var prefix = engine.Predict(new SentimentRows.BinaryRow { Text = "the film was great the film was great" }).Probability;
        Assert.Equal(prefix, p, 5);
    }

    private sealed class ProbabilityOnly
    {
        public float Probability { get; set; }
    }
}
