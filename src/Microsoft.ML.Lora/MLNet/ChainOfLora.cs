using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// Chain of LoRA (COLA, Xia et al. 2024) around the ordinary training loop: <see cref="LoraFineTuneOptions.ChainCycles"/>
/// cycles of (train → merge the adapter into the base → fresh LoRA factors and a fresh optimizer). Each cycle is one
/// complete run of <see cref="FineTuningLoop"/>, so its learning-rate schedule (warm-up included) restarts, and the
/// total optimizer steps of one run are split across the cycles. Merging changes the base's own weights, so a chain
/// always trains (and loads) on a base of its own. The merged cycles' adapters are kept as safetensors bytes: the zip
/// stores every cycle's small factors, never dense weights, and loading replays the merges in order.
/// </summary>
internal static class ChainOfLora
{
    /// <summary>The zip entry of merged cycle <paramref name="cycle"/> (1-based; the last cycle is the live adapter).</summary>
    public static string EntryName(int cycle) => $"Chain.{cycle}.safetensors";

    /// <summary>Throws for options a chain cannot run with (checked before any data or weights are read).</summary>
    public static void Validate(LoraFineTuneOptions options)
    {
        if (options.ChainCycles < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options.ChainCycles), options.ChainCycles,
                $"ChainCycles must be at least 1 (1 is plain LoRA); got {options.ChainCycles}.");
        }
        if (options.ChainCycles == 1)
        {
            return;
        }
        string Incompatible(string what) => $"ChainCycles {options.ChainCycles} (Chain of LoRA) cannot be combined with {what}.";
        if (options.Mode != LoraFineTuneMode.Lora)
        {
            throw new ArgumentException(Incompatible($"Mode {options.Mode}: it chains LoRA adapters, so use Mode Lora"), nameof(options));
        }
        if (options.Precision == LoraPrecision.BFloat16)
        {
            throw new ArgumentException(Incompatible("Precision BFloat16: every cycle merges into the base, which would be rounded to bf16 each time; use Float32"), nameof(options));
        }
        if (options.Initialization is not (Adapters.LoraInitialization.Default or Adapters.LoraInitialization.Gaussian))
        {
            throw new ArgumentException(Incompatible($"Initialization {options.Initialization}: each cycle starts a fresh adapter with B = 0 (Default or Gaussian)"), nameof(options));
        }
        if (options.CheckpointDirectory is not null)
        {
            throw new ArgumentException(Incompatible("CheckpointDirectory: a checkpoint holds one cycle's adapter, not the cycles already merged into the base"), nameof(options));
        }
        ValidateBaseStorage(options);
    }

    /// <summary>
    /// Merging a cycle into quantised (4-bit or int8) base weights would round every merged update away, so a chain
    /// needs the base in float storage: a quantised run is refused before training.
    /// </summary>
    public static void ValidateBaseStorage(LoraFineTuneOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ChainCycles > 1 && options.Quantization != Adapters.Storage.FrozenWeightQuantization.None)
        {
            throw new ArgumentException(
                $"ChainCycles {options.ChainCycles} (Chain of LoRA) cannot be combined with Quantization {options.Quantization}: " +
                "each cycle merges into the base, and merging into quantised weights is lossy. Train the chain on an unquantised base.",
                nameof(options));
        }
    }

    /// <summary>
    /// Throws when a layer the adapter adapts stores its base weight in anything but float32 (a precision chosen at run
    /// time, or another storage): each merge would round that cycle's update away.
    /// </summary>
    public static void RequireFloatBase(LoraBaseModel baseModel, LoraModelManifest manifest, int cycles)
    {
        foreach (var (path, layer) in baseModel.Lora.LoraLayers())
        {
            if (layer.HasAdapter(manifest.AdapterName) && layer.BaseWeight.dtype != ScalarType.Float32)
            {
                throw new ArgumentException(
                    $"ChainCycles {cycles} (Chain of LoRA) merges every cycle into the base, but {path} stores its base weight as {layer.BaseWeight.dtype}: use float32 base weights.",
                    nameof(LoraFineTuneOptions.ChainCycles));
            }
        }
    }

    /// <summary>The optimizer steps one run of <see cref="FineTuningLoop"/> takes over <paramref name="examples"/> rows.</summary>
    public static long PlannedSteps(int examples, FineTuningSettings settings)
    {
        long batchesPerEpoch = (examples + settings.BatchSize - 1) / settings.BatchSize;
        long stepsPerEpoch = Math.Max(1, (batchesPerEpoch + settings.GradientAccumulationSteps - 1) / settings.GradientAccumulationSteps);
        return Math.Min(settings.MaxSteps ?? long.MaxValue, stepsPerEpoch * settings.Epochs);
    }

    /// <summary>
    /// <paramref name="totalSteps"/> split into <paramref name="cycles"/> near-equal parts (the first ones take the
    /// remainder); a typed error when there are fewer steps than cycles.
    /// </summary>
    public static long[] StepsPerCycle(long totalSteps, int cycles)
    {
        if (cycles < 1 || cycles > totalSteps)
        {
            throw new ArgumentOutOfRangeException(nameof(LoraFineTuneOptions.ChainCycles), cycles,
                $"ChainCycles {cycles} needs at least one optimizer step per cycle, but the run has {totalSteps} step(s) in all (rows, batch size, epochs and MaxSteps decide it).");
        }
        return [.. Enumerable.Range(0, cycles).Select(c => totalSteps / cycles + (c < totalSteps % cycles ? 1 : 0))];
    }

    /// <summary>The seed of cycle <paramref name="cycle"/> (0-based): cycle 0 is exactly a plain run's.</summary>
    public static int CycleSeed(int seed, int cycle) => unchecked(seed + cycle);

    /// <summary>
    /// Folds the live adapter into the base and gives the base a fresh adapter of the same name and config, initialised
    /// as the first cycle's was (B = 0) from <paramref name="nextSeed"/>; returns the folded adapter's tensors as bytes.
    /// </summary>
    public static byte[] FoldCycle(LoraBaseModel baseModel, LoraModelManifest manifest, int nextSeed)
    {
        byte[] saved = SafetensorsWriter.ToBytes(AdapterWeights.Of(baseModel, manifest.AdapterName));
        baseModel.Lora.MergeIntoBase(manifest.AdapterName, safe: true);
        using var generator = new Generator((ulong)(uint)nextSeed);
        baseModel.Lora.AddAdapter(manifest.AdapterName, manifest.Lora, generator);
        baseModel.Lora.SetActiveAdapters(manifest.AdapterName);
        return saved;
    }

    /// <summary>
    /// Replays saved cycles on a freshly rebuilt base (its adapter exists, untrained): each cycle's tensors go into the
    /// adapter, which is then folded into the base, in order, exactly as training did.
    /// </summary>
    public static void Replay(LoraBaseModel baseModel, LoraModelManifest manifest, IReadOnlyList<byte[]> cycles)
    {
        for (int i = 0; i < cycles.Count; i++)
        {
            using (var file = SafetensorsFile.Load(cycles[i], EntryName(i + 1)))
            {
                AdapterWeights.Load(baseModel.Model, file);
            }
            FoldCycle(baseModel, manifest, CycleSeed(manifest.Seed, i + 1));
        }
    }

    /// <summary>
    /// Runs the cycles: <paramref name="loopFor"/> builds cycle c's loop from its settings (the trainer wires progress
    /// and cancellation), <paramref name="log"/> receives one line per finished cycle. Returns the combined result (steps
    /// summed; losses and epochs those of the last cycle, whose adapter is the live one), each cycle's result and the
    /// merged cycles' bytes.
    /// </summary>
    public static ChainRun Train(LoraBaseModel baseModel, LoraModelManifest manifest, LoraFineTuneOptions options, int seed, Device device,
        IReadOnlyList<TokenizedExample> train, IReadOnlyList<TokenizedExample>? valid,
        Func<FineTuningSettings, int, long, long, FineTuningLoop> loopFor, Action<string> log)
    {
        var steps = StepsPerCycle(PlannedSteps(train.Count, options.ToFineTuningSettings(seed)), options.ChainCycles);
        RequireFloatBase(baseModel, manifest, options.ChainCycles);
        long total = steps.Sum(), done = 0;
        var results = new List<FineTuningResult>();
        var merged = new List<byte[]>();
        for (int c = 0; c < steps.Length; c++)
        {
            if (c > 0)
            {
                lock (baseModel.Gate)
                {
                    merged.Add(FoldCycle(baseModel, manifest, CycleSeed(seed, c)));
                    baseModel.Model.to(device);
                }
            }
            var settings = options.ToFineTuningSettings(CycleSeed(seed, c));
            settings.MaxSteps = steps[c];
            var loop = loopFor(settings, c, done, total);
            FineTuningResult result;
            lock (baseModel.Gate)
            {
                result = loop.Run(train, valid);
            }
            results.Add(result);
            done += result.Steps;
            var culture = System.Globalization.CultureInfo.InvariantCulture;
            string validation = result.BestValidationLoss is { } v ? string.Create(culture, $", valid loss {v:F4}") : "";
            log(string.Create(culture, $"Chain of LoRA cycle {c + 1}/{steps.Length}: {result.Steps} steps, train loss {result.FinalTrainLoss:F4}{validation}") +
                (c + 1 < steps.Length ? "; merging into the base." : "."));
        }
        var last = results[^1];
        return new ChainRun(last with { Steps = done, StoppedEarly = results.Any(r => r.StoppedEarly) }, results, merged);
    }
}

/// <summary>What a Chain of LoRA fit did: the combined result, each cycle's, and the merged cycles' adapter tensors.</summary>
internal sealed record ChainRun(FineTuningResult Result, IReadOnlyList<FineTuningResult> Cycles, IReadOnlyList<byte[]> MergedCycles);
