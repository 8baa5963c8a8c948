using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tests.MLNet;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Adapters.Storage;
using Microsoft.ML.Lora.MLNet.Persistence;

namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>LoraFineTuneOptions.Quantization through Fit, Save and Load (the referenced base is re-quantised at load).</summary>
public sealed class QuantizedTrainerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(FrozenWeightQuantization.Nf4, LoraPrecision.Float32)]
    [InlineData(FrozenWeightQuantization.Int8, LoraPrecision.BFloat16)]
    public void QuantisedBaseTrainsSavesAndLoadsToTheSameScores(FrozenWeightQuantization quantization, LoraPrecision precision)
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
                Precision = precision,
                Quantization = quantization,
            }));
        var model = pipeline.Fit(train);
        try
        {
            var lora = ((TransformerChain<LoraFineTuneTransformer>)model).LastTransformer;
            var up = (AdaptableLinear)lora.Model.Model.AdaptableLayers().Single(l => l.Name == "model.layers.0.mlp.up_proj").Layer;
            Assert.Equal(quantization, up.Storage.Quantization);
            Assert.DoesNotContain(lora.Model.Model.named_parameters(), p => p.name == "model.layers.0.mlp.up_proj.weight");
            var fingerprint = BaseQuantizer.Fingerprint(lora.Model.Model);
            Assert.NotNull(fingerprint);

            var zip = Path.Combine(_dir.Path, "model.zip");
            ml.Model.Save(model, train.Schema, zip);
            var ml2 = new MLContext().RegisterLora();
            var loaded = ml2.Model.Load(zip, out _);
            try
            {
                var reloaded = ((TransformerChain<ITransformer>)loaded).LastTransformer as LoraFineTuneTransformer
                    ?? throw new InvalidOperationException("The loaded chain does not end with the LoRA transformer.");
                Assert.Equal(fingerprint, BaseQuantizer.Fingerprint(reloaded.Model.Model));
                var before = ml.Model.CreatePredictionEngine<SentimentRows.Row, SentimentRows.Prediction>(model);
                var after = ml2.Model.CreatePredictionEngine<SentimentRows.Row, SentimentRows.Prediction>(loaded);
                foreach (var row in SentimentRows.Multiclass(8, seed: 5))
                {
                    var p = before.Predict(row);
                    var q = after.Predict(row);
                    Assert.Equal(p.PredictedLabel, q.PredictedLabel);
                    Assert.All(p.Score.Zip(q.Score), s => Assert.Equal(s.First, s.Second));
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
