namespace Microsoft.ML.Lora.Sweeps;

/// <summary>Why a sweep ended.</summary>
public enum SweepStopReason
{
    /// <summary>Every planned trial ran (MaxTrials, when set, bounded the plan).</summary>
    Completed,

    /// <summary>The wall-clock limit ran out; the trial in progress was abandoned and not recorded.</summary>
    TimeLimit,
}
