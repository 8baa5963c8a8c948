using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Sweeps;
using Microsoft.ML.Lora.Tests.MLNet;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Tests.Sweeps;

/// <summary>The other tasks' evaluators and preprocessing, on two tiny trials each (stories260K base, toy sentiment rows).</summary>
public sealed class MlNetSweepTaskTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MLContext _ml = new(seed: 1);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void MulticlassSweep_PutsTheKeyMappingBeforeTheBestModelAndItSavesLikeAnyPipeline()
    {
        var train = _ml.Data.LoadFromEnumerable(SentimentRows.Multiclass(64, seed: 1));
        var validation = _ml.Data.LoadFromEnumerable(SentimentRows.Multiclass(32, seed: 2));
        var sweep = Sweep(new SweepObjective(SweepMetric.MacroAccuracy));

        using var result = _ml.Lora().CreateSweep(LoraTask.MulticlassClassification, Options(), sweep)
            .Execute(train, validation, _ml.Transforms.Conversion.MapValueToKey("Label"));

        var chain = Assert.IsAssignableFrom<IEnumerable<ITransformer>>(result.BestModel);
        Assert.IsType<LoraFineTuneTransformer>(chain.Last());
        Assert.All(result.Run.Evaluations, e => Assert.Equal(e.Metrics["accuracy"], e.Metrics["micro-accuracy"]));
        var zip = Path.Combine(_dir.Path, "multiclass.zip");
        result.SaveBestModel(zip, train.Schema);
        var loaded = new MLContext(seed: 2).RegisterLora().Model.Load(zip, out _);
        try
        {
            // The loaded pipeline reads raw rows (text labels) like the one the sweep returned.
            Assert.Equal(result.BestTrial!.Metric, result.Evaluate(loaded, validation)[SweepMetric.MacroAccuracy]);
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void RegressionSweep_MinimisesRmseAndReportsTheRegressionMetrics()
    {
        static IEnumerable<SentimentRows.RegressionRow> Rows(int count, int seed) =>
            SentimentRows.Multiclass(count, seed).Select(r => new SentimentRows.RegressionRow { Text = r.Text, Label = r.Label == "pos" ? 1 : 0 });
        var sweep = Sweep(SweepObjective.Parse("rmse"));

        using var result = _ml.Lora().CreateSweep(LoraTask.Regression, Options(), sweep)
            .Execute(_ml.Data.LoadFromEnumerable(Rows(64, 1)), _ml.Data.LoadFromEnumerable(Rows(32, 2)));

        Assert.False(result.Run.Objective.Maximize);
        Assert.Equal(result.Run.Evaluations.Min(e => e.Metric), result.BestTrial!.Metric);
        Assert.All(result.Run.Evaluations, e => Assert.Equal(["loss", "mae", "r-squared", "rmse"], e.Metrics.Keys.Order()));
        // ML.NET's L2 loss is the mean squared error: RMSE² (accumulated separately, so equal to float precision).
        Assert.All(result.Run.Evaluations, e => Assert.Equal(e.Metrics["rmse"] * e.Metrics["rmse"], e.Metrics["loss"], 1e-6));
    }

    [Fact]
    public void CausalLanguageModelSweep_MinimisesPerplexityOfTheResponses()
    {
        var rows = RealDataSets.E2e("valid");
        var options = Options();
        (options.PromptColumnName, options.ResponseColumnName, options.MaxSequenceLength) = ("Prompt", "Response", 48);
        var sweep = Sweep(SweepObjective.Parse("perplexity"));

        using var result = _ml.Lora().CreateSweep(LoraTask.CausalLanguageModel, options, sweep)
            .Execute(_ml.Data.LoadFromEnumerable(rows.Take(64)), _ml.Data.LoadFromEnumerable(rows.Skip(64).Take(16)));

        Assert.Equal(result.Run.Evaluations.Min(e => e.Metric), result.BestTrial!.Metric);
        Assert.All(result.Run.Evaluations, e => Assert.Equal(Math.Exp(e.Metrics["loss"]), e.Metrics["perplexity"], 1e-9));
        var lora = Assert.IsType<LoraFineTuneTransformer>(result.BestModel);
        Assert.Equal(result.BestTrial.Metrics["loss"], lora.EvaluateLanguageModel(_ml.Data.LoadFromEnumerable(rows.Skip(64).Take(16))).Loss);
    }

    private static LoraFineTuneOptions Options() => new()
    {
        BaseModelPath = Stories260K.Folder,
        NumberOfEpochs = 1,
        BatchSize = 8,
        MaxSequenceLength = 16,
        Seed = 3,
    };

    private static LoraSweepOptions Sweep(SweepObjective objective) => new()
    {
        SearchSpace = new LoraSearchSpace { Ranks = SearchRange.Of(2, 4) },
        Objective = objective,
        MaxStepsPerTrial = 8,
    };
}
