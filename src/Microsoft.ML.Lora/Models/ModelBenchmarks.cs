using System.Diagnostics;
using System.Globalization;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>What <see cref="ModelBenchmarks.Measure"/> runs.</summary>
public sealed record ModelBenchmarkOptions
{
    /// <summary>Tokens per forward pass (clipped to the model's maximum).</summary>
    public int SequenceLength { get; init; } = 256;

    /// <summary>Rows per forward pass.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Prompt length before the timed decode steps.</summary>
    public int PromptLength { get; init; } = 16;

    /// <summary>Timed single-token decode steps (with the KV cache).</summary>
    public int DecodeTokens { get; init; } = 32;

    /// <summary>Keep repeating the timed forward pass until this much time has passed (at least two passes).</summary>
    public TimeSpan MinimumForwardTime { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>torch intra-op threads during the measurement (restored after); null keeps the current setting.</summary>
    public int? Threads { get; init; }

    /// <summary>Seed of the random token ids.</summary>
    public long Seed { get; init; } = 1;
}

/// <summary>Throughput of one model on this machine.</summary>
/// <param name="ModelType">HF model_type.</param>
/// <param name="Parameters">Number of parameters.</param>
/// <param name="Dtype">Weight dtype.</param>
/// <param name="Threads">torch intra-op threads.</param>
/// <param name="SequenceLength">Tokens per forward pass.</param>
/// <param name="BatchSize">Rows per forward pass.</param>
/// <param name="ForwardTokensPerSecond">Tokens through a full forward (hidden states and LM logits for decoders) per second.</param>
/// <param name="DecodeTokens">Timed decode steps (0 for encoders).</param>
/// <param name="DecodeTokensPerSecond">Single-token cached decode steps per second, or null for encoders.</param>
public sealed record ModelBenchmarkResult(
    string ModelType, long Parameters, string Dtype, int Threads, int SequenceLength, int BatchSize,
    double ForwardTokensPerSecond, int DecodeTokens, double? DecodeTokensPerSecond)
{
    /// <summary>One line for a report.</summary>
    public string Summary =>
        string.Create(CultureInfo.InvariantCulture,
            $"{ModelType} ({Parameters:N0} params, {Dtype}, {Threads} threads): forward {ForwardTokensPerSecond:F0} tok/s at seq {SequenceLength}×{BatchSize}")
        + (DecodeTokensPerSecond is { } d ? string.Create(CultureInfo.InvariantCulture, $", decode {d:F1} tok/s") : ", decode n/a (encoder)");
}

/// <summary>Forward and decode throughput measurements (the <c>mllora bench</c> verb).</summary>
public static class ModelBenchmarks
{
    /// <summary>
    /// Measures forward tokens/s at <see cref="ModelBenchmarkOptions.SequenceLength"/> and, for causal LMs, cached
    /// decode tokens/s (greedy, one token per step), in eval mode under no_grad, after one untimed warm-up each.
    /// </summary>
    public static ModelBenchmarkResult Measure(PretrainedModel model, ModelBenchmarkOptions? options = null)
    {
        options ??= new ModelBenchmarkOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SequenceLength, 1, nameof(options.SequenceLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1, nameof(options.BatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PromptLength, 1, nameof(options.PromptLength));
        ArgumentOutOfRangeException.ThrowIfNegative(options.DecodeTokens, nameof(options.DecodeTokens));
        if (options.Threads is { } requested)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(requested, 1, nameof(options.Threads));
        }
        bool wasTraining = model.training;
        int previousThreads = get_num_threads();
        model.eval();
        try
        {
            if (options.Threads is { } threads)
            {
                set_num_threads(threads);
            }
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var device = model.parameters().First().device;
            var generator = new Generator(unchecked((ulong)options.Seed));
            int limit = model.MaxSequenceLength ?? int.MaxValue;
            int length = Math.Min(options.SequenceLength, limit);
            var ids = randint(0, model.Config.VocabularySize, [options.BatchSize, length], generator: generator).to(device);
            double forward = TimeForward(model, ids, options.MinimumForwardTime);
            double? decode = null;
            int steps = 0;
            if (model.IsCausalLanguageModel && model.SupportsKvCache && options.DecodeTokens > 0)
            {
                int prompt = Math.Min(options.PromptLength, limit - 1);
                steps = Math.Min(options.DecodeTokens, limit - prompt);
                decode = TimeDecode(model, ids[0..1, ..prompt], steps);
            }
            return new ModelBenchmarkResult(
                model.Config.ModelType, model.parameters().Sum(p => p.numel()), model.parameters().First().dtype.ToString(),
                get_num_threads(), length, options.BatchSize, forward, steps, decode);
        }
        finally
        {
            model.train(wasTraining);
            set_num_threads(previousThreads);
        }
    }

    private static double TimeForward(PretrainedModel model, Tensor ids, TimeSpan minimum)
    {
        Run(model, ids);   // warm-up: first-call allocations and kernel selection
        var clock = Stopwatch.StartNew();
        int passes = 0;
        while (passes < 2 || clock.Elapsed < minimum)
        {
            Run(model, ids);
            passes++;
        }
        return passes * ids.numel() / clock.Elapsed.TotalSeconds;
    }

    private static void Run(PretrainedModel model, Tensor ids)
    {
        using var scope = NewDisposeScope();
        var hidden = model.ForwardHidden(ids);
        if (model.IsCausalLanguageModel)
        {
            model.LanguageModelLogits(hidden);
        }
    }

    private static double TimeDecode(PretrainedModel model, Tensor prompt, int steps)
    {
        Decode(model, prompt, Math.Min(steps, 2), out _);   // warm-up
        Decode(model, prompt, steps, out var elapsed);
        return steps / elapsed.TotalSeconds;
    }

    /// <summary>Greedy cached decode of <paramref name="steps"/> tokens for every row of <paramref name="prompt"/> after an untimed prefill.</summary>
    internal static void Decode(PretrainedModel model, Tensor prompt, int steps, out TimeSpan elapsed)
    {
        using var scope = NewDisposeScope();
        using var cache = model.CreateKvCache();
        var hidden = model.ForwardHiddenCached(prompt, null, cache);
        var next = model.LanguageModelLogits(hidden.narrow(1, hidden.shape[1] - 1, 1)).argmax(-1);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++)
        {
            using var stepScope = NewDisposeScope();
            var logits = model.LanguageModelLogits(model.ForwardHiddenCached(next, null, cache));
            next = logits.argmax(-1).MoveToOuterDisposeScope();
        }
        elapsed = clock.Elapsed;
    }
}
