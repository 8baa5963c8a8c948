using Microsoft.ML.Lora.Sweeps;

namespace Microsoft.ML.Lora.Tests.Sweeps;

/// <summary>
/// A trial runner whose "validation accuracy" is a known function of the settings and the steps trained:
/// quality(settings)·(1 − e^(−steps/τ)) + 0.5·e^(−steps/τ). Quality peaks near r = 8, lr = 1e-3, α/r = 2
/// (off-centre, so no two grid points tie),
/// so the best settings are known independently of the engine, and ranking by a short run predicts
/// ranking by a long one (the premise of successive halving).
/// </summary>
internal sealed class SyntheticTrialRunner(TimeProvider? clock = null, TimeSpan? secondsPerStep = null) : ISweepTrialRunner
{
    public const long StepsPerEpoch = 1000;
    private const double Tau = 30;

    public List<(TrialSettings Settings, long Budget, long ResumedSteps)> Calls { get; } = [];

    public List<FakeModel> Models { get; } = [];

    /// <summary>Cancel this token source once this many calls have finished (simulates an interruption).</summary>
    public (int AfterCalls, CancellationTokenSource Source)? InterruptAfter { get; set; }

    public static double Quality(TrialSettings s)
    {
        var rankTerm = Math.Exp(-Math.Pow(Math.Log2(s.Rank) - 3.2, 2) / 8);
        var rateTerm = Math.Exp(-Math.Pow(Math.Log10(s.LearningRate) + 2.8, 2) / 2);
        var ratioTerm = Math.Abs(s.AlphaRatio - 2) < 1e-9 ? 1.0 : 0.9;
        return 0.5 + (0.45 * rankTerm * rateTerm * ratioTerm);
    }

    public static double Accuracy(TrialSettings s, long steps)
    {
        var progress = 1 - Math.Exp(-steps / Tau);
        return (Quality(s) * progress) + (0.5 * (1 - progress));
    }

    public TrialOutcome Run(TrialSettings settings, long stepBudget, TrialOutcome? resumeFrom, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var steps = Math.Min(stepBudget, settings.Epochs * StepsPerEpoch);
        var resumed = resumeFrom?.Model is FakeModel m && m.Settings == settings ? m.Steps : 0;
        if (clock is ManualClock manual && secondsPerStep is { } perStep)
        {
            manual.Advance(perStep * (steps - resumed));
        }
        Calls.Add((settings, stepBudget, resumed));
        var model = new FakeModel(settings, steps);
        Models.Add(model);
        if (InterruptAfter is { } interrupt && Calls.Count >= interrupt.AfterCalls)
        {
            interrupt.Source.Cancel();
        }
        return new TrialOutcome
        {
            Metrics = new Dictionary<SweepMetric, double> { [SweepMetric.Accuracy] = Accuracy(settings, steps), [SweepMetric.Loss] = 1 - Accuracy(settings, steps) },
            TotalSteps = steps,
            StepsTrained = steps - resumed,
            Model = model,
        };
    }

    internal sealed class FakeModel(TrialSettings settings, long steps) : IDisposable
    {
        public TrialSettings Settings { get; } = settings;

        public long Steps { get; } = steps;

        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }
}

/// <summary>A clock that moves only when told to.</summary>
internal sealed class ManualClock : TimeProvider
{
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by) => _ticks += by.Ticks;
}
