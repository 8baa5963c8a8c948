using System.Diagnostics;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>
/// Inference speed of a randomly initialised model of a real shape (<c>mllora bench generate</c>): prefill, cached
/// decode at batch 1 and a larger batch against the memory-bandwidth bound, and what an adapter costs unmerged and
/// merged. Variants are measured round by round, interleaved, and each figure is the median round, so a load that
/// changes during the run affects them alike.
/// </summary>
public static class GenerationBenchmark
{
    /// <summary>Runs the measurements.</summary>
    public static GenerationBenchmarkResult Run(GenerationBenchmarkOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return BenchmarkThreads.Run(options.Threads, () => Measure(options, log));
    }

    private static GenerationBenchmarkResult Measure(GenerationBenchmarkOptions options, Action<string>? log)
    {
        double? loadBefore = ProcessMemory.LoadAverage();
        manual_seed(options.Seed);
        using var model = ModelPresets.Create(options.Preset);
        if (options.BFloat16)
        {
            model.to(ScalarType.BFloat16);
        }
        model.eval();
        long weightBytes = model.parameters().Sum(p => p.numel() * p.ElementSize);
        double bandwidth = HardwareProbes.CopyBandwidth();
        log?.Invoke($"{options.Preset}: {weightBytes / 1048576.0:F0} MiB of weights, copy bandwidth {bandwidth / 1e9:F1} GB/s, {get_num_threads()} threads");

        using var noGrad = no_grad();
        var generator = new TorchSharp.torch.Generator((ulong)options.Seed);
        int vocab = model.Config.VocabularySize;
        using var prompt = randint(0, vocab, [options.LargeBatch, options.PromptLength], generator: generator);
        using var single = prompt.narrow(0, 0, 1);

        var prefill = new List<double>();
        var decode = new List<double>();
        var decodeBatch = new List<double>();
        Prefill(model, single);   // warm-up
        for (int round = 0; round < options.Rounds; round++)
        {
            prefill.Add(Prefill(model, single));
            decode.Add(Decode(model, single, options.DecodeSteps));
            decodeBatch.Add(Decode(model, prompt, options.DecodeSteps));
            log?.Invoke($"round {round + 1}: prefill {prefill[^1]:F3} s, decode {decode[^1] * 1000:F1} ms/token, batch {options.LargeBatch} {decodeBatch[^1] * 1000:F1} ms/step");
        }
        var adapter = options.AdapterOverhead ? AdapterCosts(model, single, prompt, options, log) : null;
        double decodeSeconds = TrainingBenchmark.Median(decode);
        double decodeBatchSeconds = TrainingBenchmark.Median(decodeBatch);
        return new GenerationBenchmarkResult
        {
            Preset = options.Preset,
            Precision = options.BFloat16 ? "bf16" : "fp32",
            Threads = get_num_threads(),
            PromptTokens = options.PromptLength,
            DecodeSteps = options.DecodeSteps,
            WeightBytes = weightBytes,
            PrefillTokensPerSecond = options.PromptLength / TrainingBenchmark.Median(prefill),
            DecodeTokensPerSecond = 1 / decodeSeconds,
            LargeBatch = options.LargeBatch,
            DecodeTokensPerSecondBatch = options.LargeBatch / decodeBatchSeconds,
            BandwidthBytesPerSecond = bandwidth,
            BandwidthBoundTokensPerSecond = bandwidth / weightBytes,
            BandwidthBoundTokensPerSecondBatch = options.LargeBatch * bandwidth / weightBytes,
            AdapterBaseDecodeTokensPerSecond = adapter is null ? null : 1 / adapter.Decode[0],
            AdapterUnmergedDecodeTokensPerSecond = adapter is null ? null : 1 / adapter.Decode[1],
            AdapterMergedDecodeTokensPerSecond = adapter is null ? null : 1 / adapter.Decode[2],
            UnmergedOverhead = adapter?.DecodeRatio[1] - 1,
            MergedOverhead = adapter?.DecodeRatio[2] - 1,
            UnmergedPrefillOverhead = adapter?.PrefillRatio[1] - 1,
            MergedPrefillOverhead = adapter?.PrefillRatio[2] - 1,
            MixedAdapterOverhead = adapter?.MixedRatio - 1,
            LoadAverage = [.. new[] { loadBefore, ProcessMemory.LoadAverage() }.OfType<double>()],
        };
    }

    /// <summary>Median times per variant and, for the overheads, the median of each round's ratio to the bare base.</summary>
    private sealed record AdapterTimes(double[] Prefill, double[] Decode, double[] PrefillRatio, double[] DecodeRatio, double MixedRatio);

    /// <summary>
    /// Median prefill seconds and decode seconds per token for [bare base, unmerged adapter, merged adapter], the
    /// three measured in turn within each round, in an order that rotates from round to round. The adapter's B factors are random (not zero) so it really adds.
    /// </summary>
    private static AdapterTimes AdapterCosts(PretrainedModel model, Tensor prompt, Tensor batchPrompt, GenerationBenchmarkOptions options, Action<string>? log)
    {
        var lora = new LoraModel(model);
        var config = new LoraConfig { Rank = options.AdapterRank, Alpha = 2.0 * options.AdapterRank, TargetModules = [LoraConfig.AllLinear], InitLoraWeights = LoraInitialization.Random };
        lora.AddAdapter("bench", config, options.Seed);
        var prefill = new[] { new List<double>(), new List<double>(), new List<double>() };
        var decode = new[] { new List<double>(), new List<double>(), new List<double>() };
        for (int round = 0; round < options.Rounds; round++)
        {
            // The order rotates from round to round, so that whatever the position in a round costs (the merge's
            // freed temporaries, a load that drifts) falls on each variant equally; with a fixed order the merged
            // adapter, always last and right after merging, measured 4–12 % slower than the bare base although it
            // runs exactly the bare base's code path.
            foreach (int variant in Enumerable.Range(0, 3).Select(i => (i + round) % 3))
            {
                using var disabled = variant == 0 ? lora.DisableAdapters() : null;
                if (variant == 2)
                {
                    lora.Merge();
                }
                Prefill(model, prompt);   // untimed: the first calls after a switch
                Decode(model, prompt, Math.Min(4, options.DecodeSteps));
                prefill[variant].Add(Prefill(model, prompt));
                decode[variant].Add(Decode(model, prompt, options.DecodeSteps));
                if (variant == 2)
                {
                    lora.Unmerge();
                }
            }
            log?.Invoke($"adapter round {round + 1}: decode ms/token base {decode[0][^1] * 1000:F2}, unmerged {decode[1][^1] * 1000:F2}, merged {decode[2][^1] * 1000:F2}");
        }
        // Overheads from ratios within a round: the three variants ran back to back, so a load that changes between
        // rounds cancels out (the medians of the times alone moved by several percent from one run to the next).
        double RatioMedian(List<double>[] times, int variant) =>
            TrainingBenchmark.Median([.. times[variant].Zip(times[0], (t, bare) => t / bare)]);
        double mixed = MixedAdapterRatio(lora, model, batchPrompt, config, options, log);
        return new AdapterTimes(
            [.. prefill.Select(TrainingBenchmark.Median)], [.. decode.Select(TrainingBenchmark.Median)],
            [1, RatioMedian(prefill, 1), RatioMedian(prefill, 2)], [1, RatioMedian(decode, 1), RatioMedian(decode, 2)], mixed);
    }

    /// <summary>
    /// Median over rounds of (decode step with four adapters, one per quarter of the batch) / (decode step of the same
    /// batch through one adapter), the two measured back to back in an order that alternates.
    /// </summary>
    private static double MixedAdapterRatio(LoraModel lora, PretrainedModel model, Tensor batchPrompt, LoraConfig config,
        GenerationBenchmarkOptions options, Action<string>? log)
    {
        string[] names = ["bench", "bench2", "bench3", "bench4"];
        for (int i = 1; i < names.Length; i++)
        {
            lora.AddAdapter(names[i], config, options.Seed + i);
        }
        lora.SetActiveAdapters("bench");
        int rows = (int)batchPrompt.shape[0];
        var rowAdapters = Enumerable.Range(0, rows).Select(r => names[r * names.Length / rows]).ToList();
        var single = new List<double>();
        var mixed = new List<double>();
        for (int round = 0; round < options.Rounds; round++)
        {
            for (int turn = 0; turn < 2; turn++)
            {
                bool isMixed = (turn + round) % 2 == 1;
                using var routing = isMixed ? lora.MixedBatch(rowAdapters) : null;
                Decode(model, batchPrompt, Math.Min(4, options.DecodeSteps));   // untimed: the first calls after a switch
                (isMixed ? mixed : single).Add(Decode(model, batchPrompt, options.DecodeSteps));
            }
            log?.Invoke($"mixed round {round + 1}: batch {rows} decode ms/step one adapter {single[^1] * 1000:F2}, four adapters {mixed[^1] * 1000:F2}");
        }
        return TrainingBenchmark.Median([.. mixed.Zip(single, (m, s) => m / s)]);
    }

    /// <summary>Seconds of one prefill: the prompt through a fresh cache, then the last position's logits.</summary>
    private static double Prefill(PretrainedModel model, Tensor prompt)
    {
        using var scope = NewDisposeScope();
        using var cache = model.CreateKvCache();
        var clock = Stopwatch.StartNew();
        var hidden = model.ForwardHiddenCached(prompt, null, cache);
        model.LanguageModelLogits(hidden.narrow(1, hidden.shape[1] - 1, 1)).argmax(-1);
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Seconds per decode step (all rows at once) after an untimed prefill, greedy.</summary>
    private static double Decode(PretrainedModel model, Tensor prompt, int steps)
    {
        ModelBenchmarks.Decode(model, prompt, steps, out var elapsed);
        return elapsed.TotalSeconds / steps;
    }
}
