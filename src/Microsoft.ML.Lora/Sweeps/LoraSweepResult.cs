using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// A finished sweep over the ML.NET trainer: the results table and the best models, each a ready
/// <see cref="ITransformer"/> (preprocessing, if any, followed by the fine-tuned model) that
/// <c>mlContext.Model.Save</c> saves like any other. Dispose it to free the kept models (and the base model
/// when the sweep loaded it); a model you keep using must not outlive it.
/// </summary>
public sealed class LoraSweepResult : IDisposable
{
    private readonly MLContext _ml;
    private readonly LoraBaseModel? _ownedBase;
    private readonly LoraTask _task;
    private readonly string _labelColumn;

    internal LoraSweepResult(MLContext ml, SweepRunResult run, ITransformer? preprocessing, LoraTask task, string labelColumn, LoraBaseModel? ownedBase)
    {
        _ml = ml;
        Run = run;
        _task = task;
        _labelColumn = labelColumn;
        _ownedBase = ownedBase;
        BestModels = run.BestModels
            .Select(kept => (kept.Record, Model: Prepend(preprocessing, (LoraFineTuneTransformer)kept.Model)))
            .ToArray();
    }

    /// <summary>The engine's results: every evaluation, the final results best first, steps spent, stop reason.</summary>
    public SweepRunResult Run { get; }

    /// <summary>The best trial's row; null when no trial finished within the budget.</summary>
    public SweepTrialRecord? BestTrial => Run.Best;

    /// <summary>The best trial's model; null when no trial finished within the budget.</summary>
    public ITransformer? BestModel => BestModels.Count == 0 ? null : BestModels[0].Model;

    /// <summary>The kept models, best first (see <see cref="LoraSweepOptions.KeepBestModels"/>).</summary>
    public IReadOnlyList<(SweepTrialRecord Record, ITransformer Model)> BestModels { get; }

    /// <summary>
    /// Evaluates a model of this sweep (or the same model loaded back from a zip) exactly as the sweep scored
    /// its trials: the task's ML.NET evaluator on <paramref name="data"/>, which must be raw (unprocessed) rows.
    /// </summary>
    public IReadOnlyDictionary<SweepMetric, double> Evaluate(ITransformer model, IDataView data)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        return MlNetTrialRunner.EvaluateScored(_ml, model, _task, _labelColumn, data);
    }

    /// <summary>Saves the best model as an ML.NET model zip, as <c>mlContext.Model.Save</c> does.</summary>
    public void SaveBestModel(string path, DataViewSchema inputSchema) =>
        _ml.Model.SaveAtomically(BestModel ?? throw new InvalidOperationException("The sweep finished no trial within its budget, so there is no model to save."), inputSchema, path);

    /// <summary>
    /// Writes the sweep's files into <paramref name="folder"/>: the table as <see cref="SweepOutputFiles.Csv"/>,
    /// and the evaluations as <see cref="SweepOutputFiles.Json"/> (the plot, <see cref="SweepOutputFiles.Plot"/>, comes from the
    /// Microsoft.ML.Lora.Plotting package's <c>SweepPlot.WriteInto</c>). The best model is saved by <see cref="SaveBestModel"/>.
    /// </summary>
    public void WriteReport(string folder) => SweepOutputFiles.Write(folder, Run);

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var (_, model) in BestModels)
        {
            foreach (var lora in Flatten(model).OfType<LoraFineTuneTransformer>())
            {
                lora.Dispose();
            }
        }
        _ownedBase?.Dispose();
    }

    private static ITransformer Prepend(ITransformer? preprocessing, LoraFineTuneTransformer model) => preprocessing switch
    {
        null => model,
        TransformerChain<ITransformer> chain => chain.Append(model),
        _ => new TransformerChain<ITransformer>(preprocessing, model),
    };

    /// <summary>The transformers of a model, chains expanded, in order.</summary>
    internal static IEnumerable<ITransformer> Flatten(ITransformer model) =>
        model is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [model];
}
