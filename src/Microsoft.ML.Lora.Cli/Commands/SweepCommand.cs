using System.CommandLine;
using System.Globalization;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Plotting;
using Microsoft.ML.Lora.Sweeps;
using Microsoft.ML.Lora.Training;
using Spectre.Console;

namespace MlLora.Cli.Commands;

/// <summary>
/// <c>mllora sweep</c>: the task/model/data/column flags of <c>mllora train</c>, plus the search space
/// (<c>--ranks 1,2,4,8,16 --alpha-ratio 1,2 --lr 1e-4..1e-2</c>), strategy and budgets. Writes the results
/// table (CSV and JSON, the JSON doubling as the resume file), the plot and the best model zip into <c>--out</c>.
/// </summary>
internal static class SweepCommand
{
    public static Command Create()
    {
        var args = new FineTuneArguments();
        var space = new SpaceOptions();
        var output = new Option<string>("--out") { Description = "Output folder: sweep-results.csv/.json, sweep-plot.png, best-model.zip (re-running resumes from it)", Required = true };
        var strategy = new Option<string>("--strategy") { Description = "grid | random | asha", DefaultValueFactory = _ => "grid" };
        var maxTrials = new Option<int?>("--max-trials") { Description = "Most settings to try (random/asha: sampled; grid: the first N)" };
        var objective = new Option<string?>("--objective") { Description = "Metric to optimise: accuracy, macro-accuracy, micro-accuracy, auc, f1, rmse, mae, r-squared, loss, perplexity (default: the task's usual one)" };
        var maxSteps = new Option<long?>("--max-steps") { Description = "Optimizer steps per trial at most (asha: the top rung; default there: the steps of --epochs)" };
        var minSteps = new Option<long?>("--min-steps") { Description = "asha: steps of the first rung (default: chosen so about eta trials reach the top rung)" };
        var eta = new Option<int>("--eta") { Description = "asha: keep the best 1/eta of each rung", DefaultValueFactory = _ => 3 };
        var timeLimit = new Option<string?>("--time-limit") { Description = "Wall-clock budget, e.g. 90s, 30m, 2h" };
        var keep = new Option<int>("--keep") { Description = "How many of the best trials keep their model in memory", DefaultValueFactory = _ => 3 };
        var command = new Command("sweep", "Sweep LoRA rank, alpha, learning rate (and targets, dropout, rsLoRA) and keep the best model.");
        // --lr is the sweep's learning-rate range here, so train's single --lr is left out.
        foreach (var option in args.All().Where(o => o != args.LearningRate))
        {
            command.Options.Add(option);
        }
        foreach (var option in space.All().Concat<Option>([output, strategy, maxTrials, objective, maxSteps, minSteps, eta, timeLimit, keep]))
        {
            command.Options.Add(option);
        }
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(output)!;
            // The folder may hold an earlier run's results (the sweep resumes from them); it must accept new files.
            OutputPaths.CheckFolder(output, folder, overwrite: false, resumable: true);
            var options = args.ToOptions(parse);
            // train's --lr is not registered here (this --lr is a range), so it read as 0: start from the trainer's default.
            options.LearningRate = new LoraFineTuneOptions().LearningRate;
            var validPath = parse.GetValue(args.Valid) ?? throw new ArgumentException("mllora sweep scores every trial on validation data: give --valid.");
            var ml = new MLContext(seed: options.Seed);
            var train = args.LoadData(parse, options, parse.GetValue(args.Data)!, training: true);
            var validation = args.LoadData(parse, options, validPath, training: false);
            var sweep = new LoraSweepOptions
            {
                SearchSpace = space.ToSearchSpace(parse),
                Strategy = ParseStrategy(parse.GetValue(strategy)!),
                MaxTrials = parse.GetValue(maxTrials),
                Objective = parse.GetValue(objective) is { } name ? SweepObjective.Parse(name) : null,
                MaxStepsPerTrial = parse.GetValue(maxSteps),
                MinStepsPerTrial = parse.GetValue(minSteps),
                ReductionFactor = parse.GetValue(eta),
                TimeLimit = parse.GetValue(timeLimit) is { } limit ? ParseDuration(limit) : null,
                KeepBestModels = parse.GetValue(keep),
                Seed = options.Seed ?? 0,
                ResultsFile = Path.Combine(folder, SweepOutputFiles.Json),
            };
            if (sweep.Strategy == SweepStrategy.Asha && sweep.MaxStepsPerTrial is null)
            {
                sweep.MaxStepsPerTrial = StepsOfAllEpochs(train, options);
            }
            var experiment = ml.Lora().CreateSweep(options, sweep);
            var preprocessing = options.Task == LoraTask.MulticlassClassification
                ? ml.Transforms.Conversion.MapValueToKey(options.LabelColumnName, keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
                : null;
            using var result = RunWithProgress(experiment, train, validation, preprocessing);
            Console.Write(SweepTable.Format(result.Run));
            result.WriteReport(folder);
            SweepPlot.WriteInto(folder, result.Run);
            Report(ml, result, folder, train.Schema);
            return 0;
        });
        return command;
    }

    private static LoraSweepResult RunWithProgress(LoraSweepExperiment experiment, IDataView train, IDataView validation, IEstimator<ITransformer>? preprocessing)
    {
        if (!CliErrors.Interactive)
        {
            return experiment.Execute(train, validation, preprocessing, new SynchronousProgress(p => Console.WriteLine(Describe(p))));
        }
        LoraSweepResult? result = null;
        AnsiConsole.Progress().Start(ctx =>
        {
            var bar = ctx.AddTask("sweep");
            var progress = new SynchronousProgress(p =>
            {
                bar.MaxValue = p.EvaluationsPlanned;
                bar.Value = p.EvaluationsDone;
                // A bar has one short line: the settings that usually vary.
                var s = p.Settings;
                bar.Description = Markup.Escape($"trial {p.Trial} rung {p.Rung}: r={s.Rank} alpha={s.Alpha.ToString(CultureInfo.InvariantCulture)} lr={s.LearningRate.ToString("G3", CultureInfo.InvariantCulture)}");
            });
            result = experiment.Execute(train, validation, preprocessing, progress);
            bar.Value = bar.MaxValue;
        });
        return result!;
    }

    private static void Report(MLContext ml, LoraSweepResult result, string folder, DataViewSchema schema)
    {
        var run = result.Run;
        Console.WriteLine($"{run.Evaluations.Count} evaluations ({run.ResumedEvaluations} read back from {SweepOutputFiles.Json}), {run.StepsSpent} training steps, stopped: {run.StopReason}.");
        if (result.BestTrial is { } best)
        {
            var zip = Path.Combine(folder, SweepOutputFiles.BestModel);
            TrainCommand.SaveAtomically(ml, result.BestModel!, schema, zip);
            Console.WriteLine($"best: trial {best.Trial} ({best.Settings}) {SweepMetrics.NameOf(run.Objective.Metric)} {best.Metric.ToString("F4", CultureInfo.InvariantCulture)}");
            Console.WriteLine($"saved {zip}");
        }
        Console.WriteLine($"wrote {Path.Combine(folder, SweepOutputFiles.Csv)}, {SweepOutputFiles.Json} and {SweepOutputFiles.Plot}");
    }

    private static string Describe(SweepProgress p)
    {
        var budget = p.StepBudget == long.MaxValue ? "all epochs" : $"{p.StepBudget} steps";
        var head = $"[{p.EvaluationsDone}/{p.EvaluationsPlanned}] trial {p.Trial} rung {p.Rung} ({budget}) {p.Settings}";
        return p.Finished is not { } done
            ? head
            : $"{head} -> {done.Metric.ToString("F4", CultureInfo.InvariantCulture)}{(p.Resumed ? " (from results file)" : $" in {done.Seconds:F1}s")}";
    }

    /// <summary>Optimizer steps <paramref name="options"/>' epochs take on <paramref name="train"/> (as the training loop counts them).</summary>
    private static long StepsOfAllEpochs(IDataView train, LoraFineTuneOptions options)
    {
        var rows = train.GetRowCount() ?? throw new ArgumentException("--strategy asha needs --max-steps when the row count of --data is unknown.");
        var batches = (rows + options.BatchSize - 1) / options.BatchSize;
        return Math.Max(1, batches / options.GradientAccumulationSteps) * options.NumberOfEpochs;
    }

    private static SweepStrategy ParseStrategy(string value) => value.ToLowerInvariant() switch
    {
        "grid" => SweepStrategy.Grid,
        "random" => SweepStrategy.Random,
        "asha" => SweepStrategy.Asha,
        _ => throw new ArgumentException($"--strategy '{value}' is not one of grid, random, asha."),
    };

    /// <summary>"90s", "30m", "2h", or a TimeSpan ("01:30:00").</summary>
    internal static TimeSpan ParseDuration(string text)
    {
        var trimmed = text.Trim();
        var unit = trimmed.Length > 0 ? char.ToLowerInvariant(trimmed[^1]) : ' ';
        if (unit is 's' or 'm' or 'h' && double.TryParse(trimmed[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount > 0)
        {
            return unit switch { 's' => TimeSpan.FromSeconds(amount), 'm' => TimeSpan.FromMinutes(amount), _ => TimeSpan.FromHours(amount) };
        }
        return TimeSpan.TryParse(trimmed, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero
            ? span
            : throw new ArgumentException($"--time-limit '{text}' is not a duration like 90s, 30m, 2h or 01:30:00.");
    }

    /// <summary>Reports on the training thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SynchronousProgress(Action<SweepProgress> report) : IProgress<SweepProgress>
    {
        public void Report(SweepProgress value) => report(value);
    }

    /// <summary>The search-space flags.</summary>
    private sealed class SpaceOptions
    {
        public Option<string?> Ranks { get; } = new("--ranks") { Description = "Ranks r: choices 1,2,4,8,16 or a log range 1..64:7" };
        public Option<string?> AlphaRatios { get; } = new("--alpha-ratio") { Description = "alpha as multiples of r: choices 1,2 or a range 0.5..4:4 (default 2 when --ranks is given without --alphas)" };
        public Option<string?> Alphas { get; } = new("--alphas") { Description = "Absolute alpha values (instead of --alpha-ratio)" };
        public Option<string?> LearningRates { get; } = new("--lr") { Description = "Learning rates: a log range 1e-4..1e-2 (3 grid points; 1e-4..1e-2:5 for 5) or choices 1e-4,1e-3" };
        public Option<string?> Dropouts { get; } = new("--dropouts") { Description = "LoRA dropout choices, e.g. 0,0.1" };
        public Option<string?> TargetSets { get; } = new("--target-sets") { Description = "Target module sets separated by ';', e.g. \"q_proj,v_proj;q_proj,k_proj,v_proj,o_proj;all-linear\"" };
        public Option<string?> RsLora { get; } = new("--rslora") { Description = "rsLoRA choices: off, on, or off,on" };

        public IEnumerable<Option> All() => [Ranks, AlphaRatios, Alphas, LearningRates, Dropouts, TargetSets, RsLora];

        /// <summary>The space the flags describe, validated; a problem names the flag rather than the property.</summary>
        public LoraSearchSpace ToSearchSpace(ParseResult parse)
        {
            var space = Build(parse);
            try
            {
                space.Validate();
            }
            catch (InvalidSearchSpaceException e) when (FlagOf(e.Dimension) is { } flag)
            {
                throw new ArgumentException($"{flag}: {e.Message}", e);
            }
            catch (InvalidSearchSpaceException e)
            {
                throw new ArgumentException($"nothing to sweep: give at least one of {string.Join(", ", All().Select(o => o.Name))}.", e);
            }
            return space;
        }

        private string? FlagOf(string dimension) => dimension switch
        {
            nameof(LoraSearchSpace.Ranks) => Ranks.Name,
            nameof(LoraSearchSpace.AlphaRatios) => AlphaRatios.Name,
            nameof(LoraSearchSpace.Alphas) => Alphas.Name,
            nameof(LoraSearchSpace.LearningRates) => LearningRates.Name,
            nameof(LoraSearchSpace.Dropouts) => Dropouts.Name,
            nameof(LoraSearchSpace.TargetModuleSets) => TargetSets.Name,
            nameof(LoraSearchSpace.UseRsLora) => RsLora.Name,
            _ => null,
        };

        private LoraSearchSpace Build(ParseResult parse)
        {
            var alphas = Range(parse, Alphas, logScale: true);
            var ranks = Range(parse, Ranks, logScale: true);
            return new LoraSearchSpace
            {
                Ranks = ranks,
                Alphas = alphas,
                // Sweeping r at a fixed alpha changes the update's scale with r; alpha = 2r is the usual default.
                AlphaRatios = Range(parse, AlphaRatios, logScale: false) ?? (alphas is null && ranks is not null ? SearchRange.Of(2) : null),
                LearningRates = Range(parse, LearningRates, logScale: true),
                Dropouts = Range(parse, Dropouts, logScale: false),
                TargetModuleSets = parse.GetValue(TargetSets)?.Split(';', StringSplitOptions.TrimEntries),
                UseRsLora = parse.GetValue(RsLora)?.Split(',', StringSplitOptions.TrimEntries).Select(ParseSwitch).ToArray(),
            };
        }

        private static SearchRange? Range(ParseResult parse, Option<string?> option, bool logScale) =>
            parse.GetValue(option) is { } text ? SearchRange.Parse(text, option.Name, logScale) : null;

        private static bool ParseSwitch(string value) => value.ToLowerInvariant() switch
        {
            "on" or "true" or "1" => true,
            "off" or "false" or "0" => false,
            _ => throw new ArgumentException($"--rslora '{value}' is not on or off."),
        };
    }
}
