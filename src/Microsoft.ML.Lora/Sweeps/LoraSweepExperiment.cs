using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// A sweep of <see cref="LoraFineTuneTrainer"/> settings, created by <c>mlContext.Lora().CreateSweep(...)</c>
/// (compare ML.NET AutoML's experiments). Creating it validates the search space, strategy, budgets and the
/// objective against the task, so bad input fails before any training. <see cref="Execute"/> loads the base
/// model once, trains every trial on it, and returns the best model ready to save.
/// </summary>
public sealed class LoraSweepExperiment
{
    private readonly LoraFineTuneOptions _baseOptions;

    internal LoraSweepExperiment(LoraFineTuneOptions baseOptions, LoraSweepOptions sweepOptions)
    {
        ArgumentNullException.ThrowIfNull(baseOptions);
        ArgumentNullException.ThrowIfNull(sweepOptions);
        if (baseOptions.BaseModel is null && string.IsNullOrWhiteSpace(baseOptions.BaseModelPath))
        {
            throw new ArgumentException("Set BaseModelPath (a Hugging Face model folder) or BaseModel in the base options.", nameof(baseOptions));
        }
        _baseOptions = baseOptions;
        Options = sweepOptions;
        Seed = baseOptions.Seed ?? sweepOptions.Seed;
        // Builds (and so validates) the plan now; Execute rebuilds it with the data's description.
        Plan = new LoraSweeper(sweepOptions, baseOptions.Task, MlNetTrialRunner.BaseSettings(baseOptions));
    }

    /// <summary>The sweep settings.</summary>
    public LoraSweepOptions Options { get; }

    /// <summary>The trials the sweep will train, in order, with its rung schedule.</summary>
    public LoraSweeper Plan { get; }

    /// <summary>The seed every trial trains with (the base options' seed, else the sweep's).</summary>
    public int Seed { get; }

    /// <summary>
    /// Runs the sweep. <paramref name="preprocessing"/> (for example <c>MapValueToKey("Label")</c> for multiclass)
    /// is fitted once on <paramref name="train"/>, applied to both data sets, and put in front of the returned
    /// model. Trials are scored with the task's ML.NET evaluator on <paramref name="validation"/>.
    /// </summary>
    public LoraSweepResult Execute(IDataView train, IDataView validation, IEstimator<ITransformer>? preprocessing = null,
        IProgress<SweepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        var ml = new MLContext(Seed);
        var prepare = preprocessing?.Fit(train);
        var trainData = prepare?.Transform(train) ?? train;
        var validationData = prepare?.Transform(validation) ?? validation;
        var ownsBase = _baseOptions.BaseModel is null;
        var baseModel = _baseOptions.BaseModel ?? LoraBaseModel.Load(_baseOptions.BaseModelPath!);
        try
        {
            var description = MlNetTrialRunner.Describe(_baseOptions, baseModel.Fingerprint, Seed, Count(trainData), Count(validationData));
            var sweeper = new LoraSweeper(Options, _baseOptions.Task, MlNetTrialRunner.BaseSettings(_baseOptions), description);
            MlNetTrialRunner.EnsureHead(baseModel, _baseOptions.Task, trainData.Schema, _baseOptions.LabelColumnName, Seed);
            var runner = new MlNetTrialRunner(_baseOptions, baseModel, trainData, validationData, Seed);
            var run = sweeper.Run(runner, progress, cancellationToken);
            return new LoraSweepResult(ml, run, prepare, _baseOptions.Task, _baseOptions.LabelColumnName, ownsBase ? baseModel : null);
        }
        catch
        {
            if (ownsBase)
            {
                baseModel.Dispose();
            }
            throw;
        }
    }

    private static long Count(IDataView data) => data.GetRowCount() ?? CountByCursor(data);

    private static long CountByCursor(IDataView data)
    {
        using var cursor = data.GetRowCursor([]);
        long rows = 0;
        while (cursor.MoveNext())
        {
            rows++;
        }
        return rows;
    }
}

/// <summary>Sweep entry points on <see cref="MLContext"/>: <c>mlContext.Lora().CreateSweep(...)</c>.</summary>
public static class LoraSweepCatalog
{
    /// <summary>The LoRA experiments catalog of a context.</summary>
    public static LoraExperiments Lora(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.RegisterLora();
        return new LoraExperiments(mlContext);
    }
}

/// <summary>Creates LoRA experiments (sweeps) for a context.</summary>
public sealed class LoraExperiments
{
    internal LoraExperiments(MLContext mlContext) => Context = mlContext;

    /// <summary>The context the experiments belong to.</summary>
    public MLContext Context { get; }

    /// <summary>
    /// A sweep over <paramref name="sweepOptions"/>'s search space; every other setting (task, base model,
    /// columns, batch size, ...) comes from <paramref name="baseOptions"/>. Throws the typed sweep exceptions
    /// (<see cref="InvalidSearchSpaceException"/>, <see cref="SweepObjectiveException"/>,
    /// <see cref="InvalidSweepOptionsException"/>) for settings that cannot run.
    /// </summary>
    public LoraSweepExperiment CreateSweep(LoraFineTuneOptions baseOptions, LoraSweepOptions sweepOptions) => new(baseOptions, sweepOptions);

    /// <summary>A sweep for a task; sets <see cref="LoraFineTuneOptions.Task"/> on <paramref name="baseOptions"/>.</summary>
    public LoraSweepExperiment CreateSweep(LoraTask task, LoraFineTuneOptions baseOptions, LoraSweepOptions sweepOptions)
    {
        ArgumentNullException.ThrowIfNull(baseOptions);
        baseOptions.Task = task;
        return new(baseOptions, sweepOptions);
    }
}
