// The full-size figures of issue 6 on real data with the pretrained stories260K base:
//   sms   — SMS spam, 80/20 split, accuracy vs the majority baseline
//   sst2  — SST-2, train 1,000 / dev 872, accuracy
//   e2e   — E2E NLG instruction tuning (train on valid.txt, evaluate on test.txt): test loss before/after, samples
// Usage: dotnet run --project samples/RealDataFigures -c Release -- sms|sst2|e2e [--epochs N] [--lr X]
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;
using QuickStart;

var task = args.FirstOrDefault() ?? "sst2";
int epochs = args.SkipWhile(a => a != "--epochs").Skip(1).Select(int.Parse).FirstOrDefault(3);
double learningRate = args.SkipWhile(a => a != "--lr").Skip(1).Select(a => double.Parse(a, System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault(3e-3);
var shared = SharedDataLocator.Find();
var baseFolder = Path.Combine(Path.GetTempPath(), "lora-figures-stories260K");
Llama2cImporter.Convert(Path.Combine(shared, "models/stories260K/stories260K.bin"), baseFolder, Path.Combine(shared, "models/stories260K/tok512.bin"));
var ml = new MLContext(seed: 0);
var clock = Stopwatch.StartNew();
switch (task)
{
    case "sms":
    {
        var rows = SmsSpam.Load(Path.Combine(shared, "datasets/sms-spam/SMSSpamCollection"));
        var split = ml.Data.TrainTestSplit(ml.Data.LoadFromEnumerable(rows), testFraction: 0.2, seed: 0);
        using var model = ml.BinaryClassification.Trainers.LoraFineTune(Classifier(baseFolder, epochs, 96, learningRate)).Fit(split.TrainSet);
        var m = ml.BinaryClassification.Evaluate(model.Transform(split.TestSet));
        double majority = 1 - rows.Count(r => r.Label) / (double)rows.Count;
        Console.WriteLine($"SMS spam: accuracy {m.Accuracy:P2} (majority {majority:P2}) AUC {m.AreaUnderRocCurve:F4} F1 {m.F1Score:F4}; {clock.Elapsed.TotalSeconds:F0} s");
        break;
    }
    case "sst2":
    {
        IDataView Load(string split) => ml.Data.LoadFromEnumerable(File.ReadLines(Path.Combine(shared, $"datasets/sst2/{split}.tsv")).Skip(1)
            .Select(l => l.Split('\t')).Select(p => new SmsMessage { Text = p[0].Trim(), Label = p[1].Trim() == "1" }).ToList());
        var train = Load("train");
        var dev = Load("dev");
        using var model = ml.BinaryClassification.Trainers.LoraFineTune(Classifier(baseFolder, epochs, 64, learningRate)).Fit(train);
        var m = ml.BinaryClassification.Evaluate(model.Transform(dev));
        Console.WriteLine($"SST-2 dev (872): accuracy {m.Accuracy:P2} AUC {m.AreaUnderRocCurve:F4} F1 {m.F1Score:F4}; {clock.Elapsed.TotalSeconds:F0} s");
        break;
    }
    case "e2e":
    {
        IDataView Load(string split) => ml.Data.LoadFromEnumerable(File.ReadLines(Path.Combine(shared, $"datasets/e2e/{split}.txt"))
            .Select(l => l.Split("||", 2)).Where(p => p.Length == 2).Select(p => new E2eRow { Prompt = p[0].Trim(), Response = p[1].Trim() }).ToList());
        var train = Load("valid");
        var test = Load("test");
        var options = new LoraFineTuneOptions
        {
            BaseModelPath = baseFolder, PromptColumnName = "Prompt", ResponseColumnName = "Response", TargetModules = "all-linear",
            Rank = 16, Alpha = 32, NumberOfEpochs = epochs, BatchSize = 16, LearningRate = learningRate, MaxSequenceLength = 128, MaxNewTokens = 48,
        };
        using var baseline = ml.Transforms.Text.LoraFineTuneCausalLanguageModel(new LoraFineTuneOptions
        {
            BaseModelPath = baseFolder, PromptColumnName = "Prompt", ResponseColumnName = "Response", MaxSequenceLength = 128, LearningRate = 1e-12, NumberOfEpochs = 1, BatchSize = 16,
        }).Fit(ml.Data.TakeRows(train, 16));
        var before = baseline.EvaluateLanguageModel(test);
        using var model = ml.Transforms.Text.LoraFineTuneCausalLanguageModel(options).Fit(train);
        var after = model.EvaluateLanguageModel(test);
        Console.WriteLine($"E2E test loss {before.Loss:F3} (ppl {before.Perplexity:F1}) → {after.Loss:F3} (ppl {after.Perplexity:F1}) over {after.Tokens} tokens; {clock.Elapsed.TotalSeconds:F0} s");
        var samples = ml.Data.CreateEnumerable<E2eGenerated>(model.Transform(ml.Data.TakeRows(test, 200)), reuseRowObject: false)
            .Where((_, i) => i % 40 == 0);
        foreach (var s in samples)
        {
            Console.WriteLine($"  {s.Prompt}\n    → {s.GeneratedText}");
        }
        break;
    }
    default:
        Console.Error.WriteLine("usage: RealDataFigures sms|sst2|e2e [--epochs N]");
        return 2;
}
return 0;

static LoraFineTuneOptions Classifier(string baseFolder, int epochs, int maxLength, double learningRate) => new()
{
    BaseModelPath = baseFolder, TextColumnName = "Text", TargetModules = "all-linear", Rank = 8, Alpha = 16,
    NumberOfEpochs = epochs, BatchSize = 16, LearningRate = learningRate, MaxSequenceLength = maxLength,
};

sealed class E2eRow
{
    public string Prompt { get; set; } = "";
    public string Response { get; set; } = "";
}

sealed class E2eGenerated
{
    public string Prompt { get; set; } = "";
    public string GeneratedText { get; set; } = "";
}
