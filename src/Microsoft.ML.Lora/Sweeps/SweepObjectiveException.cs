namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// An objective metric that is unknown, or that the task's evaluator does not produce (RMSE for a
/// classifier, AUC for a regression). Thrown before any trial trains.
/// </summary>
public sealed class SweepObjectiveException : ArgumentException
{
    /// <summary>Creates the exception for the offending metric name.</summary>
    public SweepObjectiveException(string metric, string problem)
        : base($"Sweep objective '{metric}': {problem}", "objective")
    {
        Metric = metric;
    }

    /// <summary>The metric name as given.</summary>
    public string Metric { get; }
}
