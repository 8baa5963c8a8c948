namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// A results file that cannot be resumed from: unreadable JSON, or a file written by a sweep with a
/// different search space, strategy, seed, objective or budget.
/// </summary>
public sealed class SweepResultsFileException : IOException
{
    /// <summary>Creates the exception naming the file.</summary>
    public SweepResultsFileException(string path, string problem, Exception? inner = null)
        : base($"Sweep results file '{path}': {problem}", inner)
    {
        FilePath = path;
    }

    /// <summary>The results file.</summary>
    public string FilePath { get; }
}
