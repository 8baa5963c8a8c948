using System.Diagnostics;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Adapters.Storage;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>
/// Times training steps of a randomly initialised model of a real model's shape (<c>mllora bench train</c>). The
/// steps run through <see cref="FineTuningLoop"/> — the loop ML.NET's trainer uses, with its optimizer, clipping
/// and batch collation — on random token rows with a language-modelling loss on every token.
/// </summary>
public static class TrainingBenchmark
{
    /// <summary>Builds the model, runs the warm-up and timed steps, and reports the figures.</summary>
    public static TrainingBenchmarkResult Run(TrainingBenchmarkOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return BenchmarkThreads.Run(options.Threads, () => Measure(options, log));
    }

    private static TrainingBenchmarkResult Measure(TrainingBenchmarkOptions options, Action<string>? log)
    {
        double? loadBefore = ProcessMemory.LoadAverage();
        manual_seed(options.Seed);
        using var model = ModelPresets.Create(options.Preset);
        bool lora = options.Mode == TrainingMode.Lora;
        if (lora)
        {
            var config = new LoraConfig
            {
                Rank = options.Rank,
                Alpha = options.Alpha,
                TargetModules = [.. options.Targets.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
            };
            new LoraModel(model).AddAdapter("bench", config, options.Seed);
        }
        var computeDtype = options.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
        BaseQuantizer.Quantize(model, options.Quantization, computeDtype);
        if (options.BFloat16)
        {
            MixedPrecision.CastFrozenWeights(model, computeDtype);
        }
        long matmulParameters = FlopAccounting.MatmulParameters(model);
        double flopsPerToken = FlopAccounting.PerToken(lora ? FlopKind.LoraTraining : FlopKind.FullTraining, model, options.SequenceLength);
        log?.Invoke($"{options.Preset}: {model.parameters().Sum(p => p.numel()):N0} parameters, {MixedPrecision.TrainableParameters(model):N0} trainable, {get_num_threads()} threads");

        var run = RunSteps(model, options, computeDtype, log);
        var timed = run.Steps.Skip(options.WarmupSteps).ToArray();
        double median = Median(timed);
        double tokensPerStep = options.SequenceLength * options.BatchSize;
        double tokensPerSecond = tokensPerStep / median;
        double achieved = flopsPerToken * tokensPerSecond;
        double gemmPeak = run.Probes.Max();
        // Each step against the better of the GEMM probes just before and just after it: on a shared machine
        // the load changes between steps, and this ratio moves much less than the times themselves.
        var paired = Enumerable.Range(options.WarmupSteps, timed.Length)
            .Select(i => flopsPerToken * tokensPerStep / run.Steps[i] / Math.Max(run.Probes[i], run.Probes[i + 1]))
            .ToArray();
        return new TrainingBenchmarkResult
        {
            Preset = options.Preset,
            Mode = lora ? "lora" : "full",
            Precision = options.BFloat16 ? "bf16" : "fp32",
            PrecisionChosen = options.BFloat16 ? "bf16" : "fp32",
            CpuFeatures = Runtime.CpuFeatures.Current.Reported,
            Seq = options.SequenceLength,
            Batch = options.BatchSize,
            Steps = timed.Length,
            WarmupSteps = options.WarmupSteps,
            Rank = lora ? options.Rank : 0,
            Targets = lora ? options.Targets : "",
            GradientCheckpointing = options.GradientCheckpointing,
            LeanAllocator = Runtime.NativeAllocator.ReturnsFreedMemory,
            Threads = get_num_threads(),
            StepSecondsMedian = median,
            StepSeconds = timed,
            TokensPerSecond = tokensPerSecond,
            PeakRssBytes = run.PeakRss,
            RssBeforeStepsBytes = run.RssBefore,
            RssAfterWarmupBytes = run.Rss[Math.Max(0, options.WarmupSteps - 1)],
            RssFinalBytes = run.Rss[^1],
            RssPerStepBytes = run.Rss,
            Quantize = options.Quantization.ToString().ToLowerInvariant(),
            FrozenWeightBytes = MixedPrecision.FrozenWeightBytes(model),
            FrozenLinearWeightBytes = BaseQuantizer.LinearWeightBytes(model),
            TrainableParameters = MixedPrecision.TrainableParameters(model),
            MatmulParameters = matmulParameters,
            FlopsPerToken = flopsPerToken,
            AchievedFlops = achieved,
            GemmPeakFlops = gemmPeak,
            Mfu = achieved / gemmPeak,
            MfuPairedMedian = Median(paired),
            GemmProbeFlops = run.Probes,
            FinalLoss = run.FinalLoss,
            LoadAverage = [.. new[] { loadBefore, ProcessMemory.LoadAverage() }.OfType<double>()],
        };
    }

    private sealed record StepRecord(List<double> Steps, List<long> Rss, List<double> Probes, double FinalLoss, long PeakRss, long RssBefore);

    /// <summary>
    /// Runs the steps through <see cref="FineTuningLoop"/>, timing each from one progress report to the next, and
    /// probing the GEMM FLOP/s before the first step and after every step (outside the timed span).
    /// </summary>
    private static StepRecord RunSteps(Models.PretrainedModel model, TrainingBenchmarkOptions options, ScalarType computeDtype, Action<string>? log)
    {
        int total = options.WarmupSteps + options.Steps;
        var random = new Random(options.Seed);
        int vocab = model.Config.VocabularySize;
        var rows = Enumerable.Range(0, total * options.BatchSize)
            .Select(_ => new TokenizedExample([.. Enumerable.Range(0, options.SequenceLength).Select(_ => random.Next(vocab))]))
            .ToList();
        var settings = new FineTuningSettings
        {
            Epochs = 1,
            BatchSize = options.BatchSize,
            MaxSteps = total,
            LengthBucketing = false,
            Seed = options.Seed,
            GradientCheckpointing = options.GradientCheckpointing,
        };
        var steps = new List<double>(total);
        var rss = new List<long>(total);
        var probes = new List<double>(total + 1) { Probe(computeDtype) };
        double finalLoss = double.NaN;
        var clock = new Stopwatch();
        var loop = new FineTuningLoop(model, new CausalLanguageModelObjective(), settings, padId: 0, CPU)
        {
            Progress = p =>
            {
                steps.Add(clock.Elapsed.TotalSeconds);
                rss.Add(ProcessMemory.ResidentBytes());
                finalLoss = p.Loss;
                probes.Add(Probe(computeDtype));
                log?.Invoke($"step {p.Step}/{total}: {steps[^1]:F3} s, loss {p.Loss:F4}, rss {rss[^1] / 1048576.0:F0} MiB, GEMM {probes[^1] / 1e9:F0} GFLOP/s");
                clock.Restart();
            },
        };
        GC.Collect();
        ProcessMemory.ResetPeak();
        long before = ProcessMemory.ResidentBytes();
        clock.Start();
        loop.Run(rows, null);
        return new StepRecord(steps, rss, probes, finalLoss, ProcessMemory.PeakResidentBytes(), before);
    }

    private static double Probe(ScalarType dtype) => HardwareProbes.GemmFlops(dtype, repeats: 3);

    /// <summary>The median of a non-empty list.</summary>
    public static double Median(IReadOnlyCollection<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            throw new ArgumentException("The median of no values is undefined.", nameof(values));
        }
        var sorted = values.Order().ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
