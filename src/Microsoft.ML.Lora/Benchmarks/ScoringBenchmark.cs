using System.Diagnostics;
using System.Text.Json.Serialization;
using Microsoft.ML.Lora.MLNet;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>What <see cref="ScoringBenchmark.Run"/> measures (the <c>mllora bench score</c> flags).</summary>
public sealed record ScoringBenchmarkOptions
{
    /// <summary>Rows trained on (one epoch) before scoring: only to get a fitted model; speed does not depend on it.</summary>
    public int TrainRows { get; init; } = 64;

    /// <summary>Rows per batch of <c>Transform</c> (<see cref="LoraFineTuneOptions.ScoringBatchSize"/>).</summary>
    public int ScoringBatchSize { get; init; } = 32;

    /// <summary>Longest token sequence per row.</summary>
    public int MaxSequenceLength { get; init; } = 128;

    /// <summary>Timed rounds of each way of scoring; the median counts.</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>torch intra-op threads (null keeps the process setting).</summary>
    public int? Threads { get; init; }
}

/// <summary>Scoring speed; JSON names are a contract (<c>mllora bench score --json</c>).</summary>
public sealed record ScoringBenchmarkResult
{
    /// <summary>Rows scored per round.</summary>
    [JsonPropertyName("rows")] public int Rows { get; init; }

    /// <summary>Rows per batch of Transform.</summary>
    [JsonPropertyName("scoring_batch_size")] public int ScoringBatchSize { get; init; }

    /// <summary>torch intra-op threads.</summary>
    [JsonPropertyName("threads")] public int Threads { get; init; }

    /// <summary>Rows per second of <c>Transform</c> with every output column read (batched, length-bucketed).</summary>
    [JsonPropertyName("rows_per_second_batched")] public double RowsPerSecondBatched { get; init; }

    /// <summary>Rows per second of <c>PredictionEngine.Predict</c>, one row per call.</summary>
    [JsonPropertyName("rows_per_second_engine")] public double RowsPerSecondEngine { get; init; }

    /// <summary>rows_per_second_batched / rows_per_second_engine.</summary>
    [JsonPropertyName("speedup")] public double Speedup { get; init; }

    /// <summary>1-minute load average before and after.</summary>
    [JsonPropertyName("load_average")] public IReadOnlyList<double> LoadAverage { get; init; } = [];
}

/// <summary>
/// Binary-classification scoring throughput of an ML.NET LoRA model (<c>mllora bench score</c>): batched
/// <c>Transform</c> over all rows against <c>PredictionEngine</c> row by row, alternating round by round.
/// </summary>
public static class ScoringBenchmark
{
    /// <summary>A labelled text row.</summary>
    public sealed class TextRow
    {
        /// <summary>The text.</summary>
        public string Text { get; set; } = "";

        /// <summary>The label.</summary>
        public bool Label { get; set; }
    }

    private sealed class Prediction
    {
        public bool PredictedLabel { get; set; }

        public float Score { get; set; }

        public float Probability { get; set; }
    }

    /// <summary>Fits a small classifier on <paramref name="baseModelFolder"/>, then times both ways of scoring <paramref name="rows"/>.</summary>
    public static ScoringBenchmarkResult Run(string baseModelFolder, IReadOnlyList<TextRow> rows, ScoringBenchmarkOptions? options = null, Action<string>? log = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(baseModelFolder);
        ArgumentNullException.ThrowIfNull(rows);
        options ??= new ScoringBenchmarkOptions();
        if (rows.Count == 0)
        {
            throw new ArgumentException("No rows to score.", nameof(rows));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Rounds, 1, nameof(options.Rounds));
        return BenchmarkThreads.Run(options.Threads, () => Measure(baseModelFolder, rows, options, log));
    }

    private static ScoringBenchmarkResult Measure(string folder, IReadOnlyList<TextRow> rows, ScoringBenchmarkOptions options, Action<string>? log)
    {
        double? loadBefore = ProcessMemory.LoadAverage();
        var ml = new MLContext(seed: 0);
        var training = ml.Data.LoadFromEnumerable(rows.Take(Math.Max(2, options.TrainRows)));
        using var model = ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
        {
            BaseModelPath = folder,
            NumberOfEpochs = 1,
            BatchSize = 16,
            MaxSequenceLength = options.MaxSequenceLength,
            ScoringBatchSize = options.ScoringBatchSize,
        }).Fit(training);
        var data = ml.Data.LoadFromEnumerable(rows);
        var engine = ml.Model.CreatePredictionEngine<TextRow, Prediction>(model);
        engine.Predict(rows[0]);   // warm-up
        var batched = new List<double>();
        var single = new List<double>();
        for (int round = 0; round < options.Rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            int count = ml.Data.CreateEnumerable<Prediction>(model.Transform(data), reuseRowObject: true).Count();
            batched.Add(count / clock.Elapsed.TotalSeconds);
            clock.Restart();
            foreach (var row in rows)
            {
                engine.Predict(row);
            }
            single.Add(rows.Count / clock.Elapsed.TotalSeconds);
            log?.Invoke($"round {round + 1}: Transform {batched[^1]:F0} rows/s, PredictionEngine {single[^1]:F0} rows/s");
        }
        double batchedRate = TrainingBenchmark.Median(batched), engineRate = TrainingBenchmark.Median(single);
        return new ScoringBenchmarkResult
        {
            Rows = rows.Count,
            ScoringBatchSize = options.ScoringBatchSize,
            Threads = get_num_threads(),
            RowsPerSecondBatched = batchedRate,
            RowsPerSecondEngine = engineRate,
            Speedup = batchedRate / engineRate,
            LoadAverage = [.. new[] { loadBefore, ProcessMemory.LoadAverage() }.OfType<double>()],
        };
    }
}
