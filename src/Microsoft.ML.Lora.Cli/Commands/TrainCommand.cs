using System.CommandLine;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Training;
using Spectre.Console;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora train</c>: fine-tune a base model on a data file and save an ML.NET model zip.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var args = new FineTuneArguments();
        var output = new Option<string>("--out") { Description = "Where to write the model zip", Required = true };
        var overwrite = OutputPaths.Overwrite();
        var checkpointDir = new Option<string?>("--checkpoint-dir")
        {
            Description = "Write checkpoints (adapter, optimizer, RNG and data position) here, and resume from the newest one it holds",
        };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Optimizer steps between checkpoints (with --checkpoint-dir)", DefaultValueFactory = _ => 100 };
        var command = new Command("train", "Fine-tune a base model with LoRA and save an ML.NET model zip.");
        args.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(overwrite);
        command.Options.Add(checkpointDir);
        command.Options.Add(checkpointEvery);
        command.SetAction(parse =>
        {
            var outPath = parse.GetValue(output)!;
            OutputPaths.CheckFile(output, outPath, parse.GetValue(overwrite));
            var options = args.ToOptions(parse);
            if (parse.GetValue(checkpointEvery) is var every and < 1)
            {
                throw new ArgumentException($"--checkpoint-every {every} must be at least 1.");
            }
            options.CheckpointDirectory = parse.GetValue(checkpointDir);
            options.CheckpointInterval = parse.GetValue(checkpointEvery);
            var ml = new MLContext(seed: options.Seed);
            var data = args.LoadData(parse, options, parse.GetValue(args.Data)!, training: true);
            if (parse.GetValue(args.Valid) is { } validPath)
            {
                options.ValidationSet = args.LoadData(parse, options, validPath, training: false);
            }
            var model = FitWithProgress(ml, options, data);
            if (LoraFineTuneTransformer.FindIn(model)?.TrainingResult is { } result)
            {
                Console.WriteLine($"mode {FineTuneArguments.ModeName(options.Mode)}: {result.TrainableParametersReport()}");
            }
            SaveAtomically(ml, model, data.Schema, outPath);
            Console.WriteLine($"saved {outPath}");
            return 0;
        });
        return command;
    }

    /// <summary>Fits the pipeline, showing a progress bar on a terminal and plain lines otherwise.</summary>
    public static ITransformer FitWithProgress(MLContext ml, LoraFineTuneOptions options, IDataView data)
    {
        var pipeline = FineTuneArguments.Pipeline(ml, options);
        if (!CliErrors.Interactive)
        {
            options.Progress = new SynchronousProgress(p => Console.WriteLine(Describe(p)));
            return pipeline.Fit(data);
        }
        ITransformer? model = null;
        AnsiConsole.Progress().Start(ctx =>
        {
            var bar = ctx.AddTask("training");
            options.Progress = new SynchronousProgress(p =>
            {
                bar.MaxValue = p.TotalSteps;
                bar.Value = p.Step;
                bar.Description = Describe(p);
            });
            model = pipeline.Fit(data);
            bar.Value = bar.MaxValue;
        });
        return model!;
    }

    private static string Describe(FineTuningProgress p) =>
        $"epoch {p.Epoch} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4} {p.TokensPerSecond:F0} tok/s" +
        (p.ValidationLoss is { } vl ? $" valid loss {vl:F4}" : "") + (p.ValidationAccuracy is { } va ? $" valid acc {va:P1}" : "");

    /// <summary>Writes the zip next to its destination and renames it into place: no half-written model files.</summary>
    public static void SaveAtomically(MLContext ml, ITransformer model, DataViewSchema schema, string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".partial";
        try
        {
            ml.Model.Save(model, schema, temp);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>Reports on the training thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SynchronousProgress(Action<FineTuningProgress> report) : IProgress<FineTuningProgress>
    {
        public void Report(FineTuningProgress value) => report(value);
    }
}
