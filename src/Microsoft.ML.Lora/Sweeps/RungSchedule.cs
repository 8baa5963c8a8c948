namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// The rungs a sweep trains through: rung k trains <see cref="TrialCounts"/>[k] trials to
/// <see cref="StepBudgets"/>[k] steps in total. Grid and random search have one rung; successive halving
/// multiplies the steps by η and divides the trials by η from one rung to the next.
/// </summary>
internal sealed class RungSchedule
{
    private RungSchedule(long[] budgets, int[] counts)
    {
        StepBudgets = budgets;
        TrialCounts = counts;
    }

    public IReadOnlyList<long> StepBudgets { get; }

    public IReadOnlyList<int> TrialCounts { get; }

    public int RungCount => StepBudgets.Count;

    /// <summary>Evaluations the whole schedule runs (one per trial per rung).</summary>
    public int EvaluationCount => TrialCounts.Sum();

    public static RungSchedule For(LoraSweepOptions options, int candidates)
    {
        if (options.Strategy != SweepStrategy.Asha)
        {
            return new RungSchedule([options.MaxStepsPerTrial ?? long.MaxValue], [candidates]);
        }
        var eta = options.ReductionFactor;
        var maxSteps = options.MaxStepsPerTrial!.Value;
        var minSteps = options.MinStepsPerTrial ?? DefaultFirstRung(maxSteps, eta, candidates);
        var budgets = new List<long>();
        var counts = new List<int>();
        var count = candidates;
        // Rungs grow by η until the next would reach the limit; the last rung always trains to the limit.
        for (var steps = minSteps; steps < maxSteps && count > 1; steps = SaturatingMultiply(steps, eta))
        {
            budgets.Add(steps);
            counts.Add(count);
            count = Math.Max(1, count / eta);
        }
        budgets.Add(maxSteps);
        counts.Add(count);
        return new RungSchedule([.. budgets], [.. counts]);
    }

    private static long DefaultFirstRung(long maxSteps, int eta, int candidates)
    {
        var halvings = Math.Max(0, (int)Math.Floor(Math.Log(Math.Max(1, candidates)) / Math.Log(eta) + 1e-9) - 1);
        var divisor = 1L;
        for (var i = 0; i < halvings && divisor <= maxSteps; i++)
        {
            divisor *= eta;
        }
        return Math.Max(1, maxSteps / divisor);
    }

    private static long SaturatingMultiply(long value, int factor) =>
        value > long.MaxValue / factor ? long.MaxValue : value * factor;
}
