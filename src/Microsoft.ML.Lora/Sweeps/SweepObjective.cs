using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>What a sweep optimises: one validation metric, maximised or minimised.</summary>
public sealed class SweepObjective
{
    /// <summary>
    /// Optimises <paramref name="metric"/> in its natural direction (accuracy up, RMSE down) unless
    /// <paramref name="maximize"/> says otherwise.
    /// </summary>
    public SweepObjective(SweepMetric metric, bool? maximize = null)
    {
        Metric = metric;
        Maximize = maximize ?? SweepMetrics.IsMaximized(metric);
    }

    /// <summary>The metric compared across trials.</summary>
    public SweepMetric Metric { get; }

    /// <summary>True when larger is better.</summary>
    public bool Maximize { get; }

    /// <summary>"max accuracy" / "min rmse".</summary>
    public override string ToString() => $"{(Maximize ? "max" : "min")} {SweepMetrics.NameOf(Metric)}";

    /// <summary>The objective for a metric name, in the metric's natural direction.</summary>
    public static SweepObjective Parse(string metricName) => new(SweepMetrics.Parse(metricName));

    /// <summary>Throws <see cref="SweepObjectiveException"/> when the task's evaluator does not produce the metric.</summary>
    public void ValidateFor(LoraTask task)
    {
        if (!SweepMetrics.Fits(Metric, task))
        {
            var fitting = string.Join(", ", SweepMetrics.ForTask(task).Select(SweepMetrics.NameOf));
            throw new SweepObjectiveException(SweepMetrics.NameOf(Metric), $"a {task} model does not produce this metric. Use one of: {fitting}.");
        }
    }

    /// <summary>
    /// Orders results best first: by the objective, then — as accuracy on a small validation set ties often,
    /// and a tie broken by trial number would promote arbitrarily — by validation loss when both report it,
    /// then by trial number.
    /// </summary>
    public int CompareRecords(SweepTrialRecord left, SweepTrialRecord right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        var byObjective = CompareBestFirst(left.Metric, right.Metric);
        if (byObjective != 0)
        {
            return byObjective;
        }
        var loss = SweepMetrics.NameOf(SweepMetric.Loss);
        if (Metric != SweepMetric.Loss && left.Metrics.TryGetValue(loss, out var leftLoss) && right.Metrics.TryGetValue(loss, out var rightLoss))
        {
            var byLoss = new SweepObjective(SweepMetric.Loss).CompareBestFirst(leftLoss, rightLoss);
            if (byLoss != 0)
            {
                return byLoss;
            }
        }
        return left.Trial.CompareTo(right.Trial);
    }

    /// <summary>
    /// Orders metric values best first; NaN (a diverged trial) ranks below every number so that it is never
    /// promoted or returned as best.
    /// </summary>
    public int CompareBestFirst(double left, double right)
    {
        if (double.IsNaN(left) || double.IsNaN(right))
        {
            return double.IsNaN(left).CompareTo(double.IsNaN(right));
        }
        return Maximize ? right.CompareTo(left) : left.CompareTo(right);
    }
}
