using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.Lora.Benchmarks;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Runtime;

namespace MlLora.Cli.Commands;

/// <summary>
/// <c>mllora bench train|generate|score|models</c>: speed on this machine. With <c>--json</c> each prints one JSON
/// object whose keys are a contract (see docs/performance.md); progress goes to stderr so stdout stays parseable.
/// </summary>
internal static class BenchCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public static Command Create()
    {
        var command = new Command("bench", "Measure training, generation and scoring speed on this machine.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Generate());
        command.Subcommands.Add(BenchScoreCommand.Create());
        command.Subcommands.Add(Models());
        return command;
    }

    internal static Option<bool> JsonFlag() => new("--json") { Description = "Print one JSON object (the documented keys) instead of a summary" };

    internal static Option<int?> Threads() => new("--threads") { Description = "torch intra-op threads (default: LORA_NUM_THREADS or the number of cores)" };

    private static Command Train()
    {
        var preset = new Option<string>("--preset") { Description = $"Model shape: {string.Join(", ", ModelPresets.DecoderNames)}", DefaultValueFactory = _ => "smollm2-135m" };
        var mode = new Option<string>("--mode") { Description = "lora | full", DefaultValueFactory = _ => "lora" };
        var precision = new Option<string>("--precision") { Description = "fp32 | bf16 | auto (frozen weights; LoRA only; auto: bf16 where the CPU has native bf16)", DefaultValueFactory = _ => "fp32" };
        var seq = new Option<int>("--seq") { Description = "Tokens per row", DefaultValueFactory = _ => 256 };
        var batch = new Option<int>("--batch") { Description = "Rows per step", DefaultValueFactory = _ => 4 };
        var steps = new Option<int>("--steps") { Description = "Timed steps", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps first", DefaultValueFactory = _ => 2 };
        var rank = new Option<int>("--rank") { Description = "LoRA rank", DefaultValueFactory = _ => 8 };
        var alpha = new Option<double>("--alpha") { Description = "LoRA alpha", DefaultValueFactory = _ => 16 };
        var targets = new Option<string>("--targets") { Description = "LoRA targets: all-linear or comma-separated module names", DefaultValueFactory = _ => "all-linear" };
        var checkpointing = new Option<bool>("--grad-checkpointing") { Description = "Recompute decoder layers in the backward pass" };
        var quantize = QuantizeOption.Create();
        var threads = Threads();
        var json = JsonFlag();
        var command = new Command("train", "Time training steps of a randomly initialised model of a real model's shape.")
        {
            preset, mode, precision, seq, batch, steps, warmup, rank, alpha, targets, checkpointing, quantize, threads, json,
        };
        command.SetAction(parse =>
        {
            var trainingMode = parse.GetValue(mode)!.ToLowerInvariant() switch
            {
                "lora" => TrainingMode.Lora,
                "full" => TrainingMode.Full,
                var other => throw new ArgumentException($"--mode '{other}' is not one of lora, full."),
            };
            var options = new TrainingBenchmarkOptions
            {
                Preset = parse.GetValue(preset)!,
                Mode = trainingMode,
                BFloat16 = ParseTrainingPrecision(parse.GetValue(precision)!, trainingMode),
                SequenceLength = parse.GetValue(seq),
                BatchSize = parse.GetValue(batch),
                Steps = parse.GetValue(steps),
                WarmupSteps = parse.GetValue(warmup),
                Rank = parse.GetValue(rank),
                Alpha = parse.GetValue(alpha),
                Targets = parse.GetValue(targets)!,
                GradientCheckpointing = parse.GetValue(checkpointing),
                Quantization = QuantizeOption.Parse(parse.GetValue(quantize)!),
                Threads = parse.GetValue(threads),
            };
            var result = TrainingBenchmark.Run(options, Console.Error.WriteLine);
            Print(result, parse.GetValue(json), () => string.Create(CultureInfo.InvariantCulture,
                $"{result.Preset} {result.Mode} {result.Precision}{(result.Quantize == "none" ? "" : " " + result.Quantize)}{(result.GradientCheckpointing ? " +ckpt" : "")} seq {result.Seq}×{result.Batch}: " +
                $"{result.StepSecondsMedian:F3} s/step, {result.TokensPerSecond:F0} tok/s, {result.AchievedFlops / 1e9:F1} GFLOP/s of {result.GemmPeakFlops / 1e9:F1} " +
                $"(MFU {result.Mfu:P1}), peak RSS {result.PeakRssBytes / 1048576.0:F0} MiB, frozen {result.FrozenWeightBytes / 1048576.0:F0} MiB, " +
                $"{result.TrainableParameters:N0} trainable"));
            return 0;
        });
        return command;
    }

    private static Command Generate()
    {
        var preset = new Option<string>("--preset") { Description = $"Model shape: {string.Join(", ", ModelPresets.DecoderNames)}", DefaultValueFactory = _ => "smollm2-135m" };
        var precision = new Option<string>("--precision") { Description = "fp32 | bf16 weights", DefaultValueFactory = _ => "fp32" };
        var prompt = new Option<int>("--prompt-tokens") { Description = "Prompt length of the prefill", DefaultValueFactory = _ => 128 };
        var steps = new Option<int>("--decode-steps") { Description = "Timed decode steps per round", DefaultValueFactory = _ => 16 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds per measurement (median counts)", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch") { Description = "Rows of the batched decode", DefaultValueFactory = _ => 8 };
        var noAdapter = new Option<bool>("--no-adapter") { Description = "Skip the unmerged/merged adapter overhead measurement" };
        var threads = Threads();
        var json = JsonFlag();
        var command = new Command("generate", "Prefill and decode speed against the memory-bandwidth bound, and the cost of an adapter.")
        {
            preset, precision, prompt, steps, rounds, batch, noAdapter, threads, json,
        };
        command.SetAction(parse =>
        {
            var result = GenerationBenchmark.Run(new GenerationBenchmarkOptions
            {
                Preset = parse.GetValue(preset)!,
                BFloat16 = ParsePrecision(parse.GetValue(precision)!),
                PromptLength = parse.GetValue(prompt),
                DecodeSteps = parse.GetValue(steps),
                Rounds = parse.GetValue(rounds),
                LargeBatch = parse.GetValue(batch),
                AdapterOverhead = !parse.GetValue(noAdapter),
                Threads = parse.GetValue(threads),
            }, Console.Error.WriteLine);
            Print(result, parse.GetValue(json), () => string.Create(CultureInfo.InvariantCulture,
                $"{result.Preset} {result.Precision}: prefill {result.PrefillTokensPerSecond:F0} tok/s, decode {result.DecodeTokensPerSecond:F1} tok/s " +
                $"(bound {result.BandwidthBoundTokensPerSecond:F1}), batch {result.LargeBatch} {result.DecodeTokensPerSecondBatch:F1} tok/s " +
                $"(bound {result.BandwidthBoundTokensPerSecondBatch:F1}), copy {result.BandwidthBytesPerSecond / 1e9:F1} GB/s") +
                (result.MergedOverhead is { } merged ? string.Create(CultureInfo.InvariantCulture,
                    $"; adapter overhead merged {merged:P1}, unmerged {result.UnmergedOverhead:P1}, 4 adapters mixed in the batch {result.MixedAdapterOverhead:P1}") : ""));
            return 0;
        });
        return command;
    }

    private static Command Models()
    {
        var presets = new Option<string>("--presets") { Description = "Comma-separated presets", DefaultValueFactory = _ => string.Join(",", ArchitectureBenchmark.DefaultPresets) };
        var seq = new Option<int>("--seq") { Description = "Tokens per forward pass", DefaultValueFactory = _ => 256 };
        var threads = Threads();
        var json = JsonFlag();
        var command = new Command("models", "Forward tokens/s and decode tokens/s of every architecture.") { presets, seq, threads, json };
        command.SetAction(parse =>
        {
            var names = parse.GetValue(presets)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var results = ArchitectureBenchmark.Run(names, parse.GetValue(seq), parse.GetValue(threads), Console.Error.WriteLine);
            Print(new Dictionary<string, object> { ["models"] = results }, parse.GetValue(json), () => string.Join(Environment.NewLine, results.Select(r =>
                string.Create(CultureInfo.InvariantCulture, $"{r.Preset} ({r.ModelType}, {r.Parameters:N0} params): forward {r.ForwardTokensPerSecond:F0} tok/s at seq {r.Seq}") +
                (r.DecodeTokensPerSecond is { } d ? string.Create(CultureInfo.InvariantCulture, $", decode {d:F1} tok/s") : ", decode n/a (encoder)"))));
            return 0;
        });
        return command;
    }

    /// <summary>
    /// fp32 → false, bf16 → true (warning once on stderr where the CPU lacks native bf16), auto → what
    /// <see cref="PrecisionChoice.Resolve"/> picks for this CPU.
    /// </summary>
    public static bool ParseTrainingPrecision(string value, TrainingMode mode)
    {
        var requested = value.ToLowerInvariant() switch
        {
            "auto" => LoraPrecision.Auto,
            _ => ParsePrecision(value) ? LoraPrecision.BFloat16 : LoraPrecision.Float32,
        };
        if (PrecisionChoice.SlowBFloat16Warning(requested, CpuFeatures.Current) is { } warning)
        {
            Console.Error.WriteLine("warning: " + warning);
        }
        var chosen = PrecisionChoice.Resolve(requested, CpuFeatures.Current, mode == TrainingMode.Full ? LoraFineTuneMode.Full : LoraFineTuneMode.Lora);
        return chosen == LoraPrecision.BFloat16;
    }

    /// <summary>fp32 → false, bf16 → true.</summary>
    public static bool ParsePrecision(string value) => value.ToLowerInvariant() switch
    {
        "fp32" or "float32" => false,
        "bf16" or "bfloat16" => true,
        _ => throw new ArgumentException($"--precision '{value}' is not one of fp32, bf16."),
    };

    internal static void Print<T>(T result, bool asJson, Func<string> summary)
    {
        Console.WriteLine(asJson ? JsonSerializer.Serialize(result, Json) : summary());
    }
}
