namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// Sweep settings that cannot run: a budget of zero trials, a reduction factor below 2, random search
/// over a continuous range without a trial limit, ASHA without a per-trial step limit.
/// Thrown before any trial trains.
/// </summary>
public sealed class InvalidSweepOptionsException : ArgumentException
{
    /// <summary>Creates the exception for one option.</summary>
    public InvalidSweepOptionsException(string option, string problem)
        : base($"Sweep option '{option}': {problem}", option)
    {
    }
}
