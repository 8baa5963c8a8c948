using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>A validation metric a sweep can optimise.</summary>
public enum SweepMetric
{
    /// <summary>Fraction classified correctly (binary: Accuracy; multiclass: MicroAccuracy).</summary>
    Accuracy,

    /// <summary>Multiclass accuracy averaged over classes.</summary>
    MacroAccuracy,

    /// <summary>Multiclass accuracy over all rows.</summary>
    MicroAccuracy,

    /// <summary>Area under the ROC curve (binary).</summary>
    Auc,

    /// <summary>F1 score of the positive class (binary).</summary>
    F1Score,

    /// <summary>Root mean squared error (regression).</summary>
    Rmse,

    /// <summary>Mean absolute error (regression).</summary>
    Mae,

    /// <summary>Coefficient of determination (regression).</summary>
    RSquared,

    /// <summary>Mean validation loss (log-loss for classifiers, squared error for regression, token cross-entropy for causal LM).</summary>
    Loss,

    /// <summary>exp(mean token cross-entropy) on validation text (causal LM).</summary>
    Perplexity,
}

/// <summary>Names, directions and task fit of <see cref="SweepMetric"/> values.</summary>
public static class SweepMetrics
{
    private static readonly (SweepMetric Metric, string Name, bool Maximize, LoraTask[] Tasks)[] Table =
    [
        (SweepMetric.Accuracy, "accuracy", true, [LoraTask.BinaryClassification, LoraTask.MulticlassClassification]),
        (SweepMetric.MacroAccuracy, "macro-accuracy", true, [LoraTask.MulticlassClassification]),
        (SweepMetric.MicroAccuracy, "micro-accuracy", true, [LoraTask.MulticlassClassification]),
        (SweepMetric.Auc, "auc", true, [LoraTask.BinaryClassification]),
        (SweepMetric.F1Score, "f1", true, [LoraTask.BinaryClassification]),
        (SweepMetric.Rmse, "rmse", false, [LoraTask.Regression]),
        (SweepMetric.Mae, "mae", false, [LoraTask.Regression]),
        (SweepMetric.RSquared, "r-squared", true, [LoraTask.Regression]),
        (SweepMetric.Loss, "loss", false, [LoraTask.BinaryClassification, LoraTask.MulticlassClassification, LoraTask.Regression, LoraTask.CausalLanguageModel]),
        (SweepMetric.Perplexity, "perplexity", false, [LoraTask.CausalLanguageModel]),
    ];

    /// <summary>The command-line / file name of a metric ("macro-accuracy", "r-squared").</summary>
    public static string NameOf(SweepMetric metric) => Row(metric).Name;

    /// <summary>Whether larger values are better for this metric.</summary>
    public static bool IsMaximized(SweepMetric metric) => Row(metric).Maximize;

    /// <summary>Whether the task's evaluator produces this metric.</summary>
    public static bool Fits(SweepMetric metric, LoraTask task) => Row(metric).Tasks.Contains(task);

    /// <summary>The metrics a task can be swept on, in table order.</summary>
    public static IReadOnlyList<SweepMetric> ForTask(LoraTask task) =>
        Table.Where(r => r.Tasks.Contains(task)).Select(r => r.Metric).ToArray();

    /// <summary>
    /// Reads a metric name (case-insensitive; "f1-score", "rsquared", "r2", "ppl" and "log-loss" accepted too).
    /// Throws <see cref="SweepObjectiveException"/> listing the known names when it is none of them.
    /// </summary>
    public static SweepMetric Parse(string name) =>
        TryParse(name, out var metric)
            ? metric
            : throw new SweepObjectiveException(name, $"unknown metric. Known metrics: {string.Join(", ", Table.Select(r => r.Name))}.");

    /// <summary>Reads a metric name as <see cref="Parse"/> does; false when it is none of the known names.</summary>
    public static bool TryParse(string name, out SweepMetric metric)
    {
        ArgumentNullException.ThrowIfNull(name);
        var key = name.Trim().ToLowerInvariant().Replace('_', '-');
        key = key switch
        {
            "f1-score" or "f1score" => "f1",
            "rsquared" or "r2" or "r-2" => "r-squared",
            "macroaccuracy" => "macro-accuracy",
            "microaccuracy" => "micro-accuracy",
            "ppl" => "perplexity",
            "log-loss" or "logloss" or "validation-loss" => "loss",
            _ => key,
        };
        foreach (var row in Table)
        {
            if (row.Name == key)
            {
                metric = row.Metric;
                return true;
            }
        }
        metric = default;
        return false;
    }

    private static (SweepMetric Metric, string Name, bool Maximize, LoraTask[] Tasks) Row(SweepMetric metric)
    {
        foreach (var row in Table)
        {
            if (row.Metric == metric)
            {
                return row;
            }
        }
        throw new ArgumentOutOfRangeException(nameof(metric), metric, "Not a sweep metric.");
    }
}
