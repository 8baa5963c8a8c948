// The sweep of issue 8, measured: LoRA r ∈ {1,2,4,8,16} × α/r ∈ {1,2} × 3 learning rates on SMS spam with the
// pretrained stories260K Llama as the (shared, loaded once) base. Runs the full grid and ASHA-style successive
// halving on the same 30 settings, checks that each best model scores the same after Save/Load, and prints
// both bests and both step counts. Each sweep resumes from its results file if interrupted.
// Usage: dotnet run --project samples/SweepSmsSpam -c Release [-- --train-rows 1200 --valid-rows 1000 --epochs 3 --out DIR]
// (On a busy machine, LORA_NUM_THREADS=1 is much faster for a model this small.)
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Plotting;
using Microsoft.ML.Lora.Sweeps;
using Microsoft.ML.Lora.Training;
using QuickStart;

var settings = SweepSettings.Parse(args);
var shared = SharedDataLocator.Find();
var work = Directory.CreateDirectory(settings.OutputDirectory).FullName;

var baseFolder = Path.Combine(work, "stories260K-hf");
Llama2cImporter.Convert(Path.Combine(shared, "models/stories260K/stories260K.bin"), baseFolder, Path.Combine(shared, "models/stories260K/tok512.bin"));
using var baseModel = LoraBaseModel.Load(baseFolder);

var ml = new MLContext(seed: 0);
var messages = SmsSpam.Load(Path.Combine(shared, "datasets/sms-spam/SMSSpamCollection")).ToArray();
new Random(11).Shuffle(messages);
var train = ml.Data.LoadFromEnumerable(messages.Take(settings.TrainRows));
var validation = ml.Data.LoadFromEnumerable(messages.Skip(settings.TrainRows).Take(settings.ValidationRows));
Console.WriteLine($"train {settings.TrainRows} rows, validate on {settings.ValidationRows} ({messages.Skip(settings.TrainRows).Take(settings.ValidationRows).Count(m => m.Label)} spam)");

var baseOptions = new LoraFineTuneOptions
{
    BaseModel = baseModel,
    TextColumnName = nameof(SmsMessage.Text),
    NumberOfEpochs = settings.Epochs,
    BatchSize = 8,
    MaxSequenceLength = 64,
    Seed = 0,
};
var stepsPerTrial = (settings.TrainRows + baseOptions.BatchSize - 1) / baseOptions.BatchSize * settings.Epochs;

var grid = Run(SweepStrategy.Grid);
var asha = Run(SweepStrategy.Asha);
var difference = (grid.Best.Metric - asha.Best.Metric) * 100;
Console.WriteLine();
Console.WriteLine($"grid: best accuracy {grid.Best.Metric:P2} (trial {grid.Best.Trial}: {grid.Best.Settings}), {grid.Steps} steps");
Console.WriteLine($"asha: best accuracy {asha.Best.Metric:P2} (trial {asha.Best.Trial}: {asha.Best.Settings}), {asha.Steps} steps = {100.0 * asha.Steps / grid.Steps:F1}% of the grid's");
Console.WriteLine($"asha is {difference.ToString("F2", CultureInfo.InvariantCulture)} points below the grid's best (goal: within 1 point on at most 40% of the steps)");
return 0;

(SweepTrialRecord Best, long Steps) Run(SweepStrategy strategy)
{
    var folder = Path.Combine(work, strategy.ToString().ToLowerInvariant());
    var sweep = new LoraSweepOptions
    {
        SearchSpace = new LoraSearchSpace
        {
            Ranks = SearchRange.Of(1, 2, 4, 8, 16),
            AlphaRatios = SearchRange.Of(1, 2),
            LearningRates = SearchRange.LogUniform(1e-3, 3e-2, gridPoints: 3),
        },
        Strategy = strategy,
        Objective = new SweepObjective(SweepMetric.Accuracy),
        MaxStepsPerTrial = stepsPerTrial,
        ResultsFile = Path.Combine(folder, SweepOutputFiles.Json),
    };
    var experiment = ml.Lora().CreateSweep(LoraTask.BinaryClassification, baseOptions, sweep);
    Console.WriteLine($"{strategy}: {experiment.Plan.PlannedTrials.Count} settings, rungs {string.Join("/", experiment.Plan.RungStepBudgets)} steps for {string.Join("/", experiment.Plan.RungTrialCounts)} trials");
    var clock = Stopwatch.StartNew();
    using var result = experiment.Execute(train, validation, progress: new SynchronousProgress(p =>
    {
        if (p.Finished is { } done)
        {
            Console.WriteLine($"  [{p.EvaluationsDone}/{p.EvaluationsPlanned}] trial {done.Trial} rung {done.Rung}: r={done.Settings.Rank} α={done.Settings.Alpha} lr={done.Settings.LearningRate:G3} → {done.Metric:F4} ({done.Steps} steps)");
        }
    }));
    Console.WriteLine($"{strategy} finished in {clock.Elapsed.TotalSeconds:F0} s");
    Console.Write(SweepTable.Format(result.Run));
    result.WriteReport(folder);
    SweepPlot.WriteInto(folder, result.Run);
    var zip = Path.Combine(folder, SweepOutputFiles.BestModel);
    result.SaveBestModel(zip, train.Schema);

    // The saved model must score what the table says.
    var loaded = new MLContext(seed: 1).RegisterLora().Model.Load(zip, out _);
    var again = result.Evaluate(loaded, validation)[SweepMetric.Accuracy];
    (loaded as IDisposable)?.Dispose();
    var best = result.BestTrial!;
    Console.WriteLine($"best model after Save/Load: accuracy {again:F4} (table: {best.Metric:F4}) {(again == best.Metric ? "equal" : "DIFFERENT")}");
    return (best, result.Run.StepsSpent);
}

/// <summary>Reports on the training thread (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class SynchronousProgress(Action<SweepProgress> report) : IProgress<SweepProgress>
{
    public void Report(SweepProgress value) => report(value);
}

/// <summary>Command-line settings of the sample.</summary>
internal sealed record SweepSettings(int TrainRows, int ValidationRows, int Epochs, string OutputDirectory)
{
    public static SweepSettings Parse(string[] args)
    {
        var s = new SweepSettings(1200, 1000, 3, "out/sweep-sms-spam");
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            s = args[i] switch
            {
                "--train-rows" => s with { TrainRows = int.Parse(value, CultureInfo.InvariantCulture) },
                "--valid-rows" => s with { ValidationRows = int.Parse(value, CultureInfo.InvariantCulture) },
                "--epochs" => s with { Epochs = int.Parse(value, CultureInfo.InvariantCulture) },
                "--out" => s with { OutputDirectory = value },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'. Options: --train-rows N, --valid-rows N, --epochs N, --out DIR."),
            };
        }
        return s;
    }
}
