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
        // Halvings that leave at least one trial; the default keeps about η trials for the top rung.
        var byTrials = PowersWithin(candidates, eta);
        var halvings = options.MinStepsPerTrial is { } minSteps
            ? Math.Min(PowersWithin(maxSteps / minSteps, eta), byTrials)
            : Math.Min(Math.Max(0, byTrials - 1), PowersWithin(maxSteps, eta));
        // Counted down from the top, so the last rung is exactly the limit and each rung is 1/η of the next.
        var budgets = new List<long>();
        var counts = new List<int>();
        for (var k = 0; k <= halvings; k++)
        {
            // With η^halvings ≤ maxSteps these are at least 1 and strictly increasing.
            budgets.Add(maxSteps / Power(eta, halvings - k));
            counts.Add((int)Math.Max(1, candidates / Power(eta, k)));
        }
        return new RungSchedule([.. budgets], [.. counts]);
    }

    // The largest k with η^k ≤ value (0 when value < η).
    private static int PowersWithin(long value, int eta)
    {
        var k = 0;
        for (var power = (long)eta; power <= value; power = SaturatingMultiply(power, eta))
        {
            k++;
        }
        return k;
    }

    private static long Power(int eta, int exponent)
    {
        var result = 1L;
        for (var i = 0; i < exponent; i++)
        {
            result = SaturatingMultiply(result, eta);
        }
        return result;
    }

    private static long SaturatingMultiply(long value, int factor) =>
        value > long.MaxValue / factor ? long.MaxValue : value * factor;
}
