namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// A search space that cannot be swept: an empty dimension, an inverted interval, a non-positive α/r ratio,
/// and so on. Thrown by validation before any trial trains.
/// </summary>
public sealed class InvalidSearchSpaceException : ArgumentException
{
    /// <summary>Creates the exception for one dimension of the space.</summary>
    public InvalidSearchSpaceException(string dimension, string problem)
        : base($"Search space dimension '{dimension}': {problem}", dimension)
    {
        Dimension = dimension;
    }

    /// <summary>The dimension at fault (Ranks, AlphaRatios, LearningRates, ...).</summary>
    public string Dimension { get; }
}
