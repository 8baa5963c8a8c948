using System.Globalization;
using System.Reflection;
using Microsoft.ML.Data;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// Trains each trial with <see cref="LoraFineTuneTrainer"/> on one shared <see cref="LoraBaseModel"/> (loaded
/// once; each fit adds its own adapter and head copy) and scores it with the task's ML.NET evaluator on the
/// validation data, so the sweep's numbers are the ones <c>mlContext.*.Evaluate</c> reports for the returned model.
/// </summary>
internal sealed class MlNetTrialRunner(LoraFineTuneOptions baseOptions, LoraBaseModel baseModel, IDataView train, IDataView validation, int seed) : ISweepTrialRunner
{
    // Settings a trial overrides, and object-valued settings that describe no part of the training run.
    private static readonly HashSet<string> NotDescribed =
    [
        nameof(LoraFineTuneOptions.Rank), nameof(LoraFineTuneOptions.Alpha), nameof(LoraFineTuneOptions.LearningRate),
        nameof(LoraFineTuneOptions.Dropout), nameof(LoraFineTuneOptions.TargetModules), nameof(LoraFineTuneOptions.UseRsLora),
        nameof(LoraFineTuneOptions.NumberOfEpochs), nameof(LoraFineTuneOptions.MaxSteps), nameof(LoraFineTuneOptions.Seed),
        nameof(LoraFineTuneOptions.BaseModel), nameof(LoraFineTuneOptions.BaseModelPath), nameof(LoraFineTuneOptions.ValidationSet),
        nameof(LoraFineTuneOptions.Progress), nameof(LoraFineTuneOptions.CheckpointDirectory),
        // Names only label the saved model's classes; they change no trial's numbers.
        nameof(LoraFineTuneOptions.BinaryLabelNames),
    ];

    /// <summary>The sweep-relevant values of the options, for the results file: a resume must train the same way.</summary>
    public static string Describe(LoraFineTuneOptions options, string baseFingerprint, int seed, long trainRows, long validationRows) =>
        string.Join(" ", Settable().Where(p => !NotDescribed.Contains(p.Name))
            .Select(p => $"{p.Name}={Convert.ToString(p.GetValue(options), CultureInfo.InvariantCulture)}")
            .Prepend($"base={baseFingerprint} seed={seed} train-rows={trainRows} validation-rows={validationRows}"));

    /// <summary>The base options with a trial's settings; every trial trains with the sweep's seed.</summary>
    public static LoraFineTuneOptions OptionsFor(LoraFineTuneOptions baseOptions, TrialSettings settings, long stepBudget, LoraBaseModel baseModel, int seed)
    {
        var options = new LoraFineTuneOptions();
        foreach (var property in Settable())
        {
            property.SetValue(options, property.GetValue(baseOptions));
        }
        options.Rank = settings.Rank;
        options.Alpha = settings.Alpha;
        options.LearningRate = settings.LearningRate;
        options.Dropout = settings.Dropout;
        options.TargetModules = settings.TargetModules;
        options.UseRsLora = settings.UseRsLora;
        options.NumberOfEpochs = settings.Epochs;
        options.MaxSteps = stepBudget == long.MaxValue ? null : stepBudget;
        options.Seed = seed;
        options.BaseModel = baseModel;
        // The sweep validates after training, with the task's evaluator; per-epoch validation and early stopping
        // inside the fit would pick a different model than the one the budget paid for.
        options.ValidationSet = null;
        options.EarlyStoppingPatience = null;
        options.CheckpointDirectory = null;
        options.Progress = null;
        options.ShowProgress = false;   // the sweep reports its own progress
        return options;
    }

    /// <summary>
    /// The base options' values of the swept settings; no target modules means the base architecture's default
    /// (read from its config.json; when that cannot be read yet, loading the base fails later with the reason).
    /// </summary>
    public static TrialSettings BaseSettings(LoraFineTuneOptions options) => new()
    {
        Rank = options.Rank,
        Alpha = options.Alpha,
        LearningRate = options.LearningRate,
        Dropout = options.Dropout,
        TargetModules = options.TargetModules ?? DefaultTargets(options) ?? LoraSearchSpace.QueryValue,
        UseRsLora = options.UseRsLora,
        Epochs = options.NumberOfEpochs,
    };

    private static string? DefaultTargets(LoraFineTuneOptions options)
    {
        var modelType = options.BaseModel?.Model.Config.ModelType
            ?? (options.BaseModelPath is { } path && File.Exists(Path.Combine(path, HfConfigFile.FileName)) ? HfConfigFile.Read(path).ModelType : null);
        return modelType is null ? null : DefaultLoraTargets.CommaListFor(modelType);
    }

    /// <summary>
    /// Gives a head-less base its task head before the first trial. The trainer draws a new head's weights and
    /// then the adapter's from one seeded generator, so the first fit on a head-less base would start its adapter
    /// from other draws than every later fit, and a trial's result would depend on whether it ran first. The head
    /// is drawn exactly as that first fit would draw it, so every trial starts alike in any order (resume included).
    /// </summary>
    public static void EnsureHead(LoraBaseModel baseModel, LoraTask task, DataViewSchema trainSchema, string labelColumn, int seed)
    {
        var label = trainSchema.GetColumnOrNull(labelColumn);
        var labels = task == LoraTask.MulticlassClassification && label?.Type is KeyDataViewType key ? (int)key.Count : 0;
        var outputs = AdapterSetup.HeadOutputs(task, labels);
        if (outputs > 0 && (task != LoraTask.MulticlassClassification || labels >= 2) && baseModel.Model.ClassificationLabels == 0)
        {
            using var generator = new TorchSharp.torch.Generator((ulong)seed);
            lock (baseModel.Gate)
            {
                baseModel.Model.AddClassificationHead(outputs, generator);
            }
        }
    }

    /// <inheritdoc />
    public TrialOutcome Run(TrialSettings settings, long stepBudget, TrialOutcome? resumeFrom, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // A context per trial: cancelling one (time limit) must not poison the context later trials use.
        var ml = new MLContext(seed);
        using var cancel = cancellationToken.Register(ml.CancelExecution);
        var options = OptionsFor(baseOptions, settings, stepBudget, baseModel, seed);
        // Continuing a promoted trial is not supported by the trainer yet: each rung trains afresh to its budget.
        var model = new LoraFineTuneTrainer(ml, options).Fit(train, validation: null);
        try
        {
            return new TrialOutcome
            {
                Metrics = Evaluate(ml, model, options),
                TotalSteps = model.TrainingResult!.Steps,
                StepsTrained = model.TrainingResult.Steps,
                Model = model,
            };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private Dictionary<SweepMetric, double> Evaluate(MLContext ml, LoraFineTuneTransformer model, LoraFineTuneOptions options) =>
        EvaluateScored(ml, model, options.Task, options.LabelColumnName, validation);

    /// <summary>Every metric the task's ML.NET evaluator reports for <paramref name="model"/> on <paramref name="data"/>, by sweep name.</summary>
    public static Dictionary<SweepMetric, double> EvaluateScored(MLContext ml, ITransformer model, LoraTask task, string labelColumn, IDataView data)
    {
        if (task == LoraTask.CausalLanguageModel)
        {
            // The loss is computed by the LoRA model itself, on the data as the steps before it leave it.
            var steps = LoraSweepResult.Flatten(model).ToList();
            var lora = steps.OfType<LoraFineTuneTransformer>().LastOrDefault()
                ?? throw new ArgumentException("The model holds no LoraFineTuneTransformer.", nameof(model));
            var prepared = steps.TakeWhile(t => t != lora).Aggregate(data, (view, step) => step.Transform(view));
            var lm = lora.EvaluateLanguageModel(prepared);
            return new() { [SweepMetric.Loss] = lm.Loss, [SweepMetric.Perplexity] = lm.Perplexity };
        }
        var scored = model.Transform(data);
        switch (task)
        {
            case LoraTask.BinaryClassification:
                var binary = ml.BinaryClassification.Evaluate(scored, labelColumn);
                return new()
                {
                    [SweepMetric.Accuracy] = binary.Accuracy,
                    [SweepMetric.Auc] = binary.AreaUnderRocCurve,
                    [SweepMetric.F1Score] = binary.F1Score,
                    [SweepMetric.Loss] = binary.LogLoss,
                };
            case LoraTask.MulticlassClassification:
                var multiclass = ml.MulticlassClassification.Evaluate(scored, labelColumn);
                return new()
                {
                    [SweepMetric.Accuracy] = multiclass.MicroAccuracy,
                    [SweepMetric.MicroAccuracy] = multiclass.MicroAccuracy,
                    [SweepMetric.MacroAccuracy] = multiclass.MacroAccuracy,
                    [SweepMetric.Loss] = multiclass.LogLoss,
                };
            default:
                var regression = ml.Regression.Evaluate(scored, labelColumn);
                return new()
                {
                    [SweepMetric.Rmse] = regression.RootMeanSquaredError,
                    [SweepMetric.Mae] = regression.MeanAbsoluteError,
                    [SweepMetric.RSquared] = regression.RSquared,
                    [SweepMetric.Loss] = regression.LossFunction,
                };
        }
    }

    private static IEnumerable<PropertyInfo> Settable() =>
        typeof(LoraFineTuneOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.CanWrite);
}
