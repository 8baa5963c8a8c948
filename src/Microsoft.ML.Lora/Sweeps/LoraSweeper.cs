using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// Runs a sweep: plans the trials from the search space and strategy, trains them through an
/// <see cref="ISweepTrialRunner"/> rung by rung, promotes the best 1/η between rungs (ASHA), honours the
/// budgets, records every evaluation in the results file as it finishes, and keeps the best models.
/// Everything that can be wrong with the settings is reported by the constructor, before any training.
/// </summary>
public sealed class LoraSweeper
{
    private readonly LoraSweepOptions _options;
    private readonly SweepObjective _objective;
    private readonly TimeProvider _time;
    private readonly RungSchedule _schedule;

    /// <summary>
    /// Validates the sweep and plans its trials. <paramref name="baseSettings"/> gives the values of the
    /// dimensions the space does not sweep; <paramref name="runnerDescription"/> names whatever else decides
    /// the results (model, data, batch size) so a results file from another setup is not resumed.
    /// </summary>
    public LoraSweeper(LoraSweepOptions options, LoraTask task, TrialSettings baseSettings, string runnerDescription = "", TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(baseSettings);
        options.Validate(task);
        ValidateBase(baseSettings);
        _options = options;
        _objective = options.ObjectiveFor(task);
        _time = timeProvider ?? TimeProvider.System;
        Description = options.Describe(task, baseSettings, runnerDescription);
        PlannedTrials = options.Strategy == SweepStrategy.Grid
            || (options.Strategy == SweepStrategy.Asha && options.MaxTrials is null)
            ? TrialCandidates.Grid(options.SearchSpace, baseSettings).Take(options.MaxTrials ?? int.MaxValue).ToArray()
            : TrialCandidates.Random(options.SearchSpace, baseSettings, options.MaxTrials, options.Seed);
        _schedule = RungSchedule.For(options, PlannedTrials.Count);
    }

    /// <summary>The settings of trials 1, 2, ... in the order they train (ASHA trains later rungs on a subset).</summary>
    public IReadOnlyList<TrialSettings> PlannedTrials { get; }

    /// <summary>Total steps each rung trains its trials to (one rung for grid and random search).</summary>
    public IReadOnlyList<long> RungStepBudgets => _schedule.StepBudgets;

    /// <summary>How many trials each rung trains.</summary>
    public IReadOnlyList<int> RungTrialCounts => _schedule.TrialCounts;

    /// <summary>The objective in force.</summary>
    public SweepObjective Objective => _objective;

    /// <summary>What identifies this sweep in its results file.</summary>
    public string Description { get; }

    /// <summary>
    /// Runs the sweep. Evaluations already in <see cref="LoraSweepOptions.ResultsFile"/> (from an interrupted
    /// run of the same sweep) are taken as they are. Cancelling <paramref name="cancellationToken"/> throws
    /// <see cref="OperationCanceledException"/> with the results file up to date; the time limit instead ends
    /// the sweep with what has finished.
    /// </summary>
    public SweepRunResult Run(ISweepTrialRunner runner, IProgress<SweepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        var run = new SweepRun(this, runner, progress, ReadPreviousEvaluations());
        try
        {
            return run.Execute(cancellationToken);
        }
        catch
        {
            run.Pool.ReleaseAll();
            throw;
        }
    }

    private Dictionary<(int Trial, int Rung), SweepTrialRecord> ReadPreviousEvaluations()
    {
        var path = _options.ResultsFile;
        if (path is null || !File.Exists(path))
        {
            return [];
        }
        var previous = new Dictionary<(int, int), SweepTrialRecord>();
        foreach (var record in SweepResultsFile.Read(path, Description))
        {
            var planned = record.Trial <= PlannedTrials.Count && record.Rung < _schedule.RungCount ? PlannedTrials[record.Trial - 1] : null;
            if (planned != record.Settings)
            {
                throw new SweepResultsFileException(path, $"trial {record.Trial} (rung {record.Rung}) does not match this sweep's plan ({planned?.ToString() ?? "no such trial"}).");
            }
            previous[(record.Trial, record.Rung)] = record;
        }
        return previous;
    }

    private static void ValidateBase(TrialSettings settings)
    {
        var problem = settings switch
        {
            { Rank: < 1 } => $"rank {settings.Rank} is below 1",
            { Alpha: var a } when !(a > 0) || !double.IsFinite(a) => $"alpha {a} is not a positive number",
            { LearningRate: var lr } when !(lr > 0) || !double.IsFinite(lr) => $"learning rate {lr} is not a positive number",
            { Dropout: var d } when !(d >= 0 && d < 1) => $"dropout {d} is outside [0, 1)",
            { Epochs: < 1 } => $"{settings.Epochs} epochs",
            _ when string.IsNullOrWhiteSpace(settings.TargetModules) => "no target modules",
            _ => null,
        };
        if (problem is not null)
        {
            throw new InvalidSweepOptionsException("baseSettings", $"the settings trials start from are invalid: {problem}.");
        }
    }

    /// <summary>The mutable state of one call to <see cref="Run"/>.</summary>
    private sealed class SweepRun(LoraSweeper sweeper, ISweepTrialRunner runner, IProgress<SweepProgress>? progress,
        Dictionary<(int Trial, int Rung), SweepTrialRecord> previous)
    {
        private readonly List<SweepTrialRecord> _evaluations = [];
        private readonly Dictionary<int, SweepTrialRecord> _latest = [];
        private int _resumed;

        public TrialModelPool Pool { get; } = new();

        private LoraSweepOptions Options => sweeper._options;

        private RungSchedule Schedule => sweeper._schedule;

        public SweepRunResult Execute(CancellationToken cancellationToken)
        {
            var started = sweeper._time.GetTimestamp();
            using var deadline = Options.TimeLimit is { } limit ? new CancellationTokenSource(limit, sweeper._time) : new CancellationTokenSource();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            var stop = SweepStopReason.Completed;
            IReadOnlyList<int> active = Enumerable.Range(1, sweeper.PlannedTrials.Count).ToArray();
            for (var rung = 0; rung < Schedule.RungCount && stop == SweepStopReason.Completed; rung++)
            {
                var finalRung = rung == Schedule.RungCount - 1;
                foreach (var trial in active)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (previous.Remove((trial, rung), out var recorded))
                    {
                        Pool.Replace(trial, FromRecord(recorded));
                        _resumed++;
                        Accept(recorded, rung, resumed: true);
                    }
                    else if (Options.TimeLimit is { } timeLimit && sweeper._time.GetElapsedTime(started) >= timeLimit)
                    {
                        stop = SweepStopReason.TimeLimit;
                        break;
                    }
                    else if (Train(trial, rung, linked.Token, deadline, cancellationToken) is { } record)
                    {
                        Accept(record, rung, resumed: false);
                    }
                    else
                    {
                        stop = SweepStopReason.TimeLimit;
                        break;
                    }
                    Pool.Prune(KeepSet(finalRung ? [] : active));
                }
                if (!finalRung && stop == SweepStopReason.Completed)
                {
                    active = Promote(active, rung, Schedule.TrialCounts[rung + 1]);
                }
            }
            return Finish(stop, cancellationToken);
        }

        // Trains one evaluation; null when the time limit interrupted it (the partial trial is dropped).
        private SweepTrialRecord? Train(int trial, int rung, CancellationToken token, CancellationTokenSource deadline, CancellationToken userToken)
        {
            var settings = sweeper.PlannedTrials[trial - 1];
            var budget = Schedule.StepBudgets[rung];
            progress?.Report(Progress(trial, rung, null, resumed: false));
            var began = sweeper._time.GetTimestamp();
            TrialOutcome outcome;
            try
            {
                outcome = runner.Run(settings, budget, Pool.Latest(trial), token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !userToken.IsCancellationRequested)
            {
                return null;
            }
            var record = ToRecord(trial, rung, settings, outcome, sweeper._time.GetElapsedTime(began).TotalSeconds);
            Pool.Replace(trial, outcome);
            return record;
        }

        private void Accept(SweepTrialRecord record, int rung, bool resumed)
        {
            _evaluations.Add(record);
            _latest[record.Trial] = record;
            if (!resumed && Options.ResultsFile is { } path)
            {
                // Evaluations of the old file not reached yet stay in it, so a second interruption loses nothing.
                SweepResultsFile.Write(path, sweeper.Description, sweeper._objective, [.. _evaluations, .. previous.Values]);
            }
            progress?.Report(Progress(record.Trial, rung, record, resumed));
        }

        private SweepProgress Progress(int trial, int rung, SweepTrialRecord? finished, bool resumed) => new()
        {
            Trial = trial,
            Rung = rung,
            Settings = sweeper.PlannedTrials[trial - 1],
            StepBudget = Schedule.StepBudgets[rung],
            Finished = finished,
            Resumed = resumed,
            EvaluationsDone = _evaluations.Count,
            EvaluationsPlanned = Schedule.EvaluationCount,
            StepsSpent = _evaluations.Sum(e => e.StepsSpent),
        };

        // The best 1/η of this rung (by metric, ties to the lower trial number) go on, in trial order.
        private int[] Promote(IReadOnlyList<int> active, int rung, int count) =>
            active.Select(trial => _evaluations.Last(e => e.Trial == trial && e.Rung == rung))
                .OrderBy(e => e, BestFirst)
                .Take(count)
                .Select(e => e.Trial)
                .Order()
                .ToArray();

        private HashSet<int> KeepSet(IEnumerable<int> stillRacing) =>
            [.. _latest.Values.OrderBy(e => e, BestFirst).Take(Options.KeepBestModels).Select(e => e.Trial), .. stillRacing];

        private Comparer<SweepTrialRecord> BestFirst => Comparer<SweepTrialRecord>.Create(sweeper._objective.CompareRecords);

        private SweepRunResult Finish(SweepStopReason stop, CancellationToken cancellationToken)
        {
            var final = _latest.Values.OrderBy(e => e, BestFirst).ToArray();
            Pool.Prune(KeepSet([]));
            if (final.Length > 0 && Pool.ModelOf(final[0].Trial) is null)
            {
                // The best trial finished in an earlier, interrupted run, so its model was not kept: train it again
                // to the same steps (deterministic on CPU, so the model matches its recorded metric).
                var best = final[0];
                Pool.Replace(best.Trial, runner.Run(best.Settings, best.Steps, null, cancellationToken));
            }
            var kept = final.Take(Options.KeepBestModels)
                .Where(e => Pool.ModelOf(e.Trial) is not null)
                .Select(e => new SweepTrialModel(e, Pool.ModelOf(e.Trial)!))
                .ToArray();
            return new SweepRunResult(sweeper.Description, sweeper._objective, [.. _evaluations], final, kept, stop, _resumed);
        }

        private SweepTrialRecord ToRecord(int trial, int rung, TrialSettings settings, TrialOutcome outcome, double seconds)
        {
            var objective = sweeper._objective.Metric;
            if (outcome.Metrics is null || !outcome.Metrics.TryGetValue(objective, out var metric))
            {
                throw new InvalidOperationException($"The trial runner {runner.GetType().Name} returned no '{SweepMetrics.NameOf(objective)}' metric for trial {trial} ({settings}).");
            }
            if (outcome.StepsTrained < 0 || outcome.TotalSteps < outcome.StepsTrained)
            {
                throw new InvalidOperationException($"The trial runner {runner.GetType().Name} reported {outcome.StepsTrained} steps trained of {outcome.TotalSteps} in total for trial {trial}.");
            }
            return new SweepTrialRecord
            {
                Trial = trial,
                Rung = rung,
                Settings = settings,
                Metric = metric,
                Metrics = outcome.Metrics.ToDictionary(m => SweepMetrics.NameOf(m.Key), m => m.Value),
                Steps = outcome.TotalSteps,
                StepsSpent = outcome.StepsTrained,
                Seconds = seconds,
            };
        }

        private static TrialOutcome FromRecord(SweepTrialRecord record) => new()
        {
            Metrics = record.Metrics
                .Select(m => (Known: SweepMetrics.TryParse(m.Key, out var metric), metric, m.Value))
                .Where(m => m.Known)
                .ToDictionary(m => m.metric, m => m.Value),
            TotalSteps = record.Steps,
            StepsTrained = record.StepsSpent,
        };
    }
}
