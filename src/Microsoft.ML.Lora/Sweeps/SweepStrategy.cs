namespace Microsoft.ML.Lora.Sweeps;

/// <summary>How a sweep chooses and schedules its trials.</summary>
public enum SweepStrategy
{
    /// <summary>Every grid point (up to MaxTrials) in grid order, each trained to the per-trial step limit.</summary>
    Grid,

    /// <summary>Seeded random points (up to MaxTrials), each trained to the per-trial step limit.</summary>
    Random,

    /// <summary>
    /// ASHA-style successive halving over the grid (or MaxTrials random points): every candidate trains a few steps, the best 1/η by validation metric
    /// continue to η times as many steps, and so on up to the per-trial step limit, so most steps go to
    /// promising settings. Trials run one at a time, so rungs complete before promotion (the synchronous
    /// form): with one worker, ASHA's asynchronous rule would promote on the first few results alone.
    /// </summary>
    Asha,
}
