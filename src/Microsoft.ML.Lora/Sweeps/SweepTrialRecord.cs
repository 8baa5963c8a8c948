using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>One row of a sweep's results table: one trial evaluated at one rung.</summary>
public sealed class SweepTrialRecord
{
    /// <summary>Trial number, from 1, in the order the sweep planned its settings.</summary>
    [JsonPropertyName("trial")] public required int Trial { get; init; }

    /// <summary>Successive-halving rung (0 for grid and random search).</summary>
    [JsonPropertyName("rung")] public int Rung { get; init; }

    /// <summary>The settings the trial trained with.</summary>
    [JsonPropertyName("settings")] public required TrialSettings Settings { get; init; }

    /// <summary>The objective metric on validation data (NaN when the trial diverged).</summary>
    [JsonPropertyName("metric")] public required double Metric { get; init; }

    /// <summary>Every validation metric the runner reported, by name ("accuracy", "auc", ...).</summary>
    [JsonPropertyName("metrics")] public Dictionary<string, double> Metrics { get; init; } = [];

    /// <summary>Optimiser steps the evaluated model had taken.</summary>
    [JsonPropertyName("steps")] public required long Steps { get; init; }

    /// <summary>Optimiser steps this evaluation cost (fewer than <see cref="Steps"/> when a promoted trial continued).</summary>
    [JsonPropertyName("steps_spent")] public required long StepsSpent { get; init; }

    /// <summary>Wall-clock seconds of training and evaluation.</summary>
    [JsonPropertyName("seconds")] public double Seconds { get; init; }
}
