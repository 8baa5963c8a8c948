using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tests.MLNet;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Performance;

/// <summary>LoraFineTuneOptions.Precision = BFloat16 through Fit, Save and Load.</summary>
public sealed class Bf16TrainerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Bf16BaseTrainsSavesAndLoadsToTheSameScores()
    {
        var baseFolder = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(_dir.Path, "base"));
        var ml = new MLContext(seed: 3);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Multiclass(64, seed: 1));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
            {
                BaseModelPath = baseFolder,
                NumberOfEpochs = 2,
                BatchSize = 16,
                LearningRate = 5e-3,
                TargetModules = "all-linear",
                Precision = LoraPrecision.BFloat16,
            }));
        var model = pipeline.Fit(train);
        try
        {
            var lora = ((TransformerChain<LoraFineTuneTransformer>)model).LastTransformer;
            var parameters = lora.Model.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.dtype);
            Assert.Equal(ScalarType.BFloat16, parameters["model.layers.0.mlp.up_proj.weight"]);
            Assert.Equal(ScalarType.Float32, parameters.Single(p => p.Key.StartsWith("model.layers.0.mlp.up_proj.lora_A.", StringComparison.Ordinal)).Value);
            Assert.Equal(ScalarType.Float32, parameters["score.weight"]);

            var zip = Path.Combine(_dir.Path, "model.zip");
            ml.Model.Save(model, train.Schema, zip);
            var ml2 = new MLContext().RegisterLora();
            var loaded = ml2.Model.Load(zip, out _);
            try
            {
                var before = ml.Model.CreatePredictionEngine<SentimentRows.Row, SentimentRows.Prediction>(model);
                var after = ml2.Model.CreatePredictionEngine<SentimentRows.Row, SentimentRows.Prediction>(loaded);
                foreach (var row in SentimentRows.Multiclass(8, seed: 5))
                {
                    var p = before.Predict(row);
                    var q = after.Predict(row);
                    Assert.Equal(p.PredictedLabel, q.PredictedLabel);
                    Assert.All(p.Score.Zip(q.Score), s => Assert.InRange(Math.Abs(s.First - s.Second), 0, 1e-5));
                }
            }
            finally
            {
                (loaded as IDisposable)?.Dispose();
            }
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }
}
