using Microsoft.ML;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Runtime;

namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>Bad training input gets typed errors naming the column, before any training starts.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MLContext _ml = new(seed: 1);
    private readonly string _base;

    public BadInputTests() => _base = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(_dir.Path, "base"));

    public void Dispose() => _dir.Dispose();

    private sealed class NoTextRow
    {
        public string Words { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private sealed class FloatLabelRow
    {
        public string Text { get; set; } = "";
        public float Label { get; set; }
    }

    private LoraFineTuneTrainer Multiclass() => _ml.MulticlassClassification.Trainers.LoraFineTune(_base, numberOfEpochs: 1);

    [Fact]
    public void E029_MissingTextColumnNamesTheColumn()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new NoTextRow { Words = "a", Label = "x" } });
        var keyed = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var error = Assert.Throws<LoraSchemaException>(() => Multiclass().Fit(keyed));
        Assert.Equal("Text", error.ColumnName);
    }

    [Fact]
    public void E030_MissingLabelColumnNamesTheColumn()
    {
        var data = _ml.Data.LoadFromEnumerable(SentimentRows.Multiclass(4, 1));
        var trainer = _ml.MulticlassClassification.Trainers.LoraFineTune(_base, labelColumnName: "Category", numberOfEpochs: 1);
        var error = Assert.Throws<LoraSchemaException>(() => trainer.Fit(data));
        Assert.Equal("Category", error.ColumnName);
    }

    [Fact]
    public void E032_NonKeyLabelForMulticlassNamesTheColumnAndTheFix()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new FloatLabelRow { Text = "a", Label = 1 } });
        var error = Assert.Throws<LoraSchemaException>(() => Multiclass().Fit(data));
        Assert.Equal("Label", error.ColumnName);
        Assert.Contains("MapValueToKey", error.Message);
    }

    [Fact]
    public void E033_EmptyDataViewIsRejected()
    {
        var data = _ml.Data.LoadFromEnumerable(new List<SentimentRows.Row>());
        var keyed = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(_ml.Data.LoadFromEnumerable(SentimentRows.Multiclass(4, 1))).Transform(data);
        var error = Assert.Throws<EmptyTrainingDataException>(() => Multiclass().Fit(keyed));
        Assert.Contains("empty", error.Message);
    }

    [Fact]
    public void E031_BinaryNeedsBooleanLabel()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new FloatLabelRow { Text = "a", Label = 1 } });
        var error = Assert.Throws<LoraSchemaException>(() => _ml.BinaryClassification.Trainers.LoraFineTune(_base, numberOfEpochs: 1).Fit(data));
        Assert.Equal("Label", error.ColumnName);
    }

    [Fact]
    public void CudaWithoutCudaBuildIsATypedErrorOrFallsBack()
    {
        Assert.Throws<DeviceUnavailableException>(() => TorchDevices.Resolve("cuda"));
        Assert.Equal(TorchSharp.DeviceType.CPU, TorchDevices.Resolve("cuda", fallbackToCpu: true).type);
        Assert.Throws<DeviceUnavailableException>(() => TorchDevices.Resolve("tpu"));
    }

    [Fact]
    public void E036_InvalidHyperParametersAreArgumentErrors()
    {
        var data = _ml.Data.LoadFromEnumerable(SentimentRows.Multiclass(4, 1));
        var keyed = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var rankZero = _ml.MulticlassClassification.Trainers.LoraFineTune(new LoraFineTuneOptions { BaseModelPath = _base, Rank = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => rankZero.Fit(keyed));
        var badLr = _ml.MulticlassClassification.Trainers.LoraFineTune(new LoraFineTuneOptions { BaseModelPath = _base, LearningRate = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => badLr.Fit(keyed));
    }

    [Theory]
    [InlineData(-2.0, 0.0, "lora_alpha")]
    [InlineData(16.0, 1.0, "lora_dropout")]
    [InlineData(16.0, -0.1, "lora_dropout")]
    public void E037_NegativeAlphaOrDropoutOutsideZeroToOneIsRefusedBeforeTraining(double alpha, double dropout, string field)
    {
        var data = _ml.Data.LoadFromEnumerable(SentimentRows.Multiclass(4, 1));
        var keyed = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var trainer = _ml.MulticlassClassification.Trainers.LoraFineTune(new LoraFineTuneOptions { BaseModelPath = _base, Alpha = alpha, Dropout = dropout });
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(keyed));
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }
}
