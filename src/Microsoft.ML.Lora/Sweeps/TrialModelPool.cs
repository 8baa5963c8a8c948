namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// Each trial's latest outcome, and the rule for letting go of models: a model is kept while its trial may
/// still be promoted or ranks among the best few, and disposed (when disposable) once neither holds.
/// </summary>
internal sealed class TrialModelPool
{
    private readonly Dictionary<int, TrialOutcome> _latest = [];

    public TrialOutcome? Latest(int trial) => _latest.GetValueOrDefault(trial);

    public object? ModelOf(int trial) => _latest.GetValueOrDefault(trial)?.Model;

    /// <summary>Makes <paramref name="outcome"/> the trial's latest; the previous model goes unless the runner returned it again.</summary>
    public void Replace(int trial, TrialOutcome outcome)
    {
        if (_latest.TryGetValue(trial, out var previous) && !ReferenceEquals(previous.Model, outcome.Model))
        {
            Release(previous.Model);
        }
        _latest[trial] = outcome;
    }

    /// <summary>Disposes the models of every trial not in <paramref name="keep"/>; their outcomes stay, model-less.</summary>
    public void Prune(IReadOnlySet<int> keep)
    {
        foreach (var (trial, outcome) in _latest.ToArray())
        {
            if (outcome.Model is not null && !keep.Contains(trial))
            {
                Release(outcome.Model);
                _latest[trial] = new TrialOutcome
                {
                    Metrics = outcome.Metrics,
                    TotalSteps = outcome.TotalSteps,
                    StepsTrained = outcome.StepsTrained,
                };
            }
        }
    }

    /// <summary>Disposes every model (used when the sweep fails part way).</summary>
    public void ReleaseAll() => Prune(new HashSet<int>());

    private static void Release(object? model) => (model as IDisposable)?.Dispose();
}
