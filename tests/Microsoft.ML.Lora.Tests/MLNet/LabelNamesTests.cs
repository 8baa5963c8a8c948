using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>
/// Binary labels in the library: a label that is the same in every row is a typed error; class names given to the
/// trainer are saved in the zip and read back (older zips have none); the ML.NET output stays Boolean.
/// </summary>
public sealed class LabelNamesTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MLContext _ml = new(seed: 1);

    public void Dispose() => _dir.Dispose();

    private IDataView Binary(int count, bool? only = null) =>
        _ml.Data.LoadFromEnumerable(SentimentRows.Binary(count, seed: 3).Select(r => only is { } v ? new SentimentRows.BinaryRow { Text = r.Text, Label = v } : r));

    private LoraFineTuneOptions Options(string[]? names = null) => new()
    {
        BaseModelPath = Stories260K.Folder, NumberOfEpochs = 1, BatchSize = 8, MaxSequenceLength = 24, BinaryLabelNames = names,
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OneClassInEveryRowIsATypedErrorNamingTheColumn(bool value)
    {
        var error = Assert.Throws<LabelValuesException>(() => _ml.BinaryClassification.Trainers.LoraFineTune(Options()).Fit(Binary(16, value)));
        Assert.Equal("Label", error.ColumnName);
        Assert.Equal([value ? "true" : "false"], error.ValuesSeen);
        Assert.Contains("both classes", error.Message);
    }

    [Fact]
    public void NamesAreSavedInTheZipAndTheOutputStaysBoolean()
    {
        var data = Binary(24);
        using var model = _ml.BinaryClassification.Trainers.LoraFineTune(Options(["ham", "spam"])).Fit(data);
        Assert.Equal(["ham", "spam"], model.LabelNames);
        var zip = Path.Combine(_dir.Path, "named.zip");
        _ml.Model.Save(model, data.Schema, zip);

        var ml2 = new MLContext();
        var loaded = ml2.Model.LoadWithLora(zip, out _);
        var lora = Assert.IsType<LoraFineTuneTransformer>(loaded);
        Assert.Equal(["ham", "spam"], lora.LabelNames);
        var schema = loaded.Transform(data).Schema;
        Assert.Equal(BooleanDataViewType.Instance, schema[OutputColumnNames.PredictedLabel].Type);
        Assert.Equal(NumberDataViewType.Single, schema[OutputColumnNames.Probability].Type);
        Assert.Equal(["ham", "spam"], LoraModelZip.Describe(zip).Single().LabelNames);
        (loaded as IDisposable)?.Dispose();
    }

    [Fact]
    public void ZipsWithoutNamesLoadWithNone()
    {
        var data = Binary(24);
        using var model = _ml.BinaryClassification.Trainers.LoraFineTune(Options()).Fit(data);
        Assert.Null(model.LabelNames);
        // The manifest of a zip written before names existed has no LabelNames key at all.
        var older = new LoraModelManifest { Task = LoraTask.BinaryClassification }.ToJson();
        Assert.DoesNotContain(nameof(LoraModelManifest.LabelNames), older);
        Assert.Null(LoraModelManifest.FromJson(older, "older zip").LabelNames);
    }

    [Theory]
    [InlineData("spam")]
    [InlineData("spam", "spam")]
    [InlineData("ham", "")]
    public void NamesMustBeTwoDifferentNames(params string[] names)
    {
        var trainer = _ml.BinaryClassification.Trainers.LoraFineTune(Options(names));
        Assert.Throws<ArgumentException>(() => trainer.Fit(Binary(16)));
    }

    [Fact]
    public void MissingTextColumnListsTheColumnsThatExist()
    {
        var options = Options();
        options.TextColumnName = "Message";
        var error = Assert.Throws<LoraSchemaException>(() => _ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(Binary(8)));
        Assert.Equal("Message", error.ColumnName);
        Assert.Contains("Text, Label", error.Message);
    }
}
