using System.IO.Compression;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Checkpoints.Onnx;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tests.Checkpoints;
using Microsoft.ML.Lora.Tests.Checkpoints.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>
/// LoraFineTuneOptions.Mode: HeadOnly trains the head alone (the base stays bit-identical), Full trains every weight
/// and saves them all, the trainable-parameter counts are the formulas', and every mode's zip loads to the same predictions.
/// </summary>
public sealed class FineTuneModeTests : IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly string _bert;

    public FineTuneModeTests()
    {
        var (onnx, vocab) = OnnxGraphTracingTests.Write(_temp, new TinyBertOnnx().Build(seed: 5));
        _bert = OnnxBertImporter.Convert(onnx, vocab, _temp.File("bert"), null).Folder;
    }

    public void Dispose() => _temp.Dispose();

    private LoraFineTuneOptions Options(LoraFineTuneMode mode) => new()
    {
        BaseModelPath = _bert, Mode = mode, TargetModules = "query,value", Rank = 4, Alpha = 8, NumberOfEpochs = 3, BatchSize = 8,
        LearningRate = mode == LoraFineTuneMode.Full ? 5e-3 : 5e-2, Seed = 3, ShowProgress = false,
    };

    private static Dictionary<string, Tensor> BaseTensors(LoraFineTuneTransformer model, IReadOnlyList<string> except) =>
        model.Model.Model.state_dict().Where(kv => !except.Any(m => kv.Key.StartsWith(m + ".", StringComparison.Ordinal))).ToDictionary(kv => kv.Key, kv => kv.Value);

    [Fact]
    public void HeadOnlyLeavesEveryBaseWeightBitIdenticalAndTrainsTheHead()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(48, seed: 1));
        using var model = ml.BinaryClassification.Trainers.LoraFineTune(Options(LoraFineTuneMode.HeadOnly)).Fit(train);
        var untrainedOptions = Options(LoraFineTuneMode.HeadOnly);
        untrainedOptions.LearningRate = 1e-30;   // same seed: the head as initialised
        using var untrained = ml.BinaryClassification.Trainers.LoraFineTune(untrainedOptions).Fit(train);
        using var original = LoraBaseModel.Load(_bert);
        var heads = model.Model.Model.ClassificationHeadModules;
        var after = BaseTensors(model, heads);
        Assert.Equal(original.Model.state_dict().Count, after.Count);
        foreach (var (name, tensor) in original.Model.state_dict())
        {
            Assert.True(Same(tensor, after[name]), $"{name} changed in HeadOnly mode");
        }
        Assert.Null(model.AdapterName);
        Assert.Empty(model.Model.Lora.Adapters);
        var initialHead = untrained.Model.Model.state_dict()["classifier.weight"];
        var trainedHead = model.Model.Model.state_dict()["classifier.weight"];
        Assert.True((trainedHead - initialHead).abs().max().item<float>() > 1e-3, "the head did not train");
        // The head: classifier [2, hidden] + bias [2]; nothing else trains.
        int hidden = new TinyBertOnnx().Hidden;
        Assert.Equal(2 * hidden + 2, model.TrainingResult!.TrainableParameters);
        Assert.Equal(model.Model.Model.parameters().Sum(p => p.numel()), model.TrainingResult.TotalParameters);
    }

    [Fact]
    public void FullChangesTheBaseWeightsAndCountsEveryParameter()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(48, seed: 1));
        using var model = ml.BinaryClassification.Trainers.LoraFineTune(Options(LoraFineTuneMode.Full)).Fit(train);
        using var original = LoraBaseModel.Load(_bert);
        var after = model.Model.Model.state_dict();
        var changed = original.Model.named_parameters().Count(p => !Same(p.parameter, after[p.name]));
        Assert.True(changed >= original.Model.named_parameters().Count() - 2, $"only {changed} base parameters changed in Full mode");
        Assert.Equal(model.TrainingResult!.TotalParameters, model.TrainingResult.TrainableParameters);
        Assert.Equal(100, model.TrainingResult.TrainablePercent, 9);
        Assert.True(model.BaseModelReference.Embedded);
    }

    [Fact]
    public void LoraCountsAreTheFactorsAndTheHeadCopy()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(16, seed: 1));
        var options = Options(LoraFineTuneMode.Lora);
        options.NumberOfEpochs = 1;
        using var model = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(train);
        var bert = new TinyBertOnnx();
        // Per layer: query and value, each A [r, h] and B [h, r]; plus the head copy [2, h] + [2].
        long expected = bert.Layers * 2 * (4 * bert.Hidden + bert.Hidden * 4) + 2 * bert.Hidden + 2;
        Assert.Equal(expected, model.TrainingResult!.TrainableParameters);
        Assert.Contains($"trainable params: {expected:N0}", model.TrainingResult.TrainableParametersReport(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(LoraFineTuneMode.Lora)]
    [InlineData(LoraFineTuneMode.HeadOnly)]
    [InlineData(LoraFineTuneMode.Full)]
    public void SaveAndLoadGiveTheSamePredictions(LoraFineTuneMode mode)
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, seed: 1));
        var zip = _temp.File($"{mode}.zip");
        var rows = SentimentRows.Binary(12, seed: 4);
        float[] before;
        using (var model = ml.BinaryClassification.Trainers.LoraFineTune(Options(mode)).Fit(train))
        {
            ml.Model.Save(model, train.Schema, zip);
            before = Scores(ml, model, rows);
        }
        using (var archive = ZipFile.OpenRead(zip))
        {
            var names = archive.Entries.Select(e => e.FullName).ToList();
            Assert.Equal(mode == LoraFineTuneMode.Full, names.Any(n => n.EndsWith("Base.model.safetensors", StringComparison.Ordinal)));
        }
        if (mode == LoraFineTuneMode.Full)
        {
            Directory.Move(_bert, _bert + "-moved");   // every weight must come from the zip
        }
        var ml2 = new MLContext(seed: 1);
        var loaded = ml2.Model.LoadWithLora(zip, out _);
        try
        {
            var after = Scores(ml2, loaded, rows);
            for (int i = 0; i < rows.Count; i++)
            {
                Assert.InRange(Math.Abs(before[i] - after[i]), 0, 1e-6);
            }
            Assert.Equal(mode, ((LoraFineTuneTransformer)loaded).Mode);
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void FullOnASharedBaseTrainsAPrivateCopy()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(16, seed: 1));
        using var shared = LoraBaseModel.Load(_bert);
        var weightsBefore = shared.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var options = Options(LoraFineTuneMode.Full);
        options.BaseModelPath = null;
        options.BaseModel = shared;
        using (var model = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(train))
        {
            Assert.NotSame(shared, model.Model);
        }
        foreach (var (name, tensor) in shared.Model.state_dict())
        {
            Assert.True(Same(tensor, weightsBefore[name]), $"the shared base's {name} changed");
        }
    }

    [Fact]
    public void ModesThatCannotApplyAreRefusedBeforeTraining()
    {
        var ml = new MLContext(seed: 0);
        var classify = ml.Data.LoadFromEnumerable(SentimentRows.Binary(8, seed: 1));
        var bf16 = Options(LoraFineTuneMode.Full);
        bf16.Precision = LoraPrecision.BFloat16;
        var error = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.LoraFineTune(bf16).Fit(classify));
        Assert.Contains("BFloat16", error.Message, StringComparison.Ordinal);

        var llama = TinyModels.WriteLlamaWithGpt2Tokenizer(_temp.File("llama"));
        var text = ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = "once upon a time" } });
        var headOnly = new LoraFineTuneOptions { BaseModelPath = llama, Mode = LoraFineTuneMode.HeadOnly, ShowProgress = false };
        error = Assert.Throws<ArgumentException>(() => ml.Transforms.Text.LoraFineTuneCausalLanguageModel(headOnly).Fit(text));
        Assert.Contains("HeadOnly", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FullFineTunedLanguageModelRoundTripsItsLoss()
    {
        var ml = new MLContext(seed: 0);
        var llama = TinyModels.WriteLlamaWithGpt2Tokenizer(_temp.File("llama"));
        var rows = Enumerable.Range(0, 16).Select(i => new TextRow { Text = $"the cat sat on the mat number {i % 4}" }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = new LoraFineTuneOptions { BaseModelPath = llama, Mode = LoraFineTuneMode.Full, NumberOfEpochs = 6, BatchSize = 4, LearningRate = 5e-3, Seed = 1, ShowProgress = false };
        var zip = _temp.File("lm.zip");
        double trained, untouched;
        using (var baseline = ml.Transforms.Text.LoraFineTuneCausalLanguageModel(new LoraFineTuneOptions { BaseModelPath = llama, Mode = LoraFineTuneMode.Full, LearningRate = 1e-30, NumberOfEpochs = 1, ShowProgress = false }).Fit(data))
        {
            untouched = baseline.EvaluateLanguageModel(data).Loss;
        }
        using (var model = ml.Transforms.Text.LoraFineTuneCausalLanguageModel(options).Fit(data))
        {
            trained = model.EvaluateLanguageModel(data).Loss;
            ml.Model.Save(model, data.Schema, zip);
        }
        Assert.True(trained < untouched - 0.5, $"full fine-tuning did not lower the loss: {untouched:F3} -> {trained:F3}");
        var loaded = (LoraFineTuneTransformer)new MLContext().Model.LoadWithLora(zip, out _);
        using (loaded)
        {
            Assert.Equal(trained, loaded.EvaluateLanguageModel(data).Loss, 5);
        }
    }

    /// <summary>Bit-identical: same shape and every element equal.</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static float[] Scores(MLContext ml, ITransformer model, IEnumerable<SentimentRows.BinaryRow> rows) =>
        [.. ml.Data.CreateEnumerable<BinaryScore>(model.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).Select(r => r.Score)];

    private sealed class BinaryScore
    {
        public float Score { get; set; }
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
    }
}
