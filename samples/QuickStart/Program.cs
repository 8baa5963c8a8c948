// Quick start: fine-tune a real pretrained Llama (stories260K, from ../shared/data) with LoRA to detect SMS spam,
// evaluate it with ML.NET, save the model zip, load it back in a fresh MLContext and predict.
// Usage: dotnet run --project samples/QuickStart -c Release [-- --train-rows N --epochs N --out DIR]
using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;
using QuickStart;

var settings = QuickStartSettings.Parse(args);
var shared = SharedDataLocator.Find();
var work = Directory.CreateDirectory(settings.OutputDirectory).FullName;

// 1. The base model: llama2.c's stories260K converted to a Hugging Face folder (config.json, model.safetensors, tokenizer.model).
var baseFolder = Path.Combine(work, "stories260K-hf");
Llama2cImporter.Convert(Path.Combine(shared, "models/stories260K/stories260K.bin"), baseFolder,
    Path.Combine(shared, "models/stories260K/tok512.bin"));
Console.WriteLine($"base model: {baseFolder}");

// 2. Data: the UCI SMS Spam Collection, split 80/20 with a fixed seed.
var ml = new MLContext(seed: 0);
var messages = SmsSpam.Load(Path.Combine(shared, "datasets/sms-spam/SMSSpamCollection"));
var split = ml.Data.TrainTestSplit(ml.Data.LoadFromEnumerable(messages), testFraction: 0.2, seed: 0);
var train = ml.Data.TakeRows(ml.Data.ShuffleRows(split.TrainSet, seed: 0), settings.TrainRows);
Console.WriteLine($"messages: {messages.Count} ({messages.Count(m => m.Label)} spam); training on {settings.TrainRows}");

// 3. Fine-tune: LoRA r=8 on every linear layer, binary classification head.
var trainer = ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
{
    BaseModelPath = baseFolder,
    TextColumnName = nameof(SmsMessage.Text),
    Rank = 8,
    Alpha = 16,
    TargetModules = "all-linear",
    NumberOfEpochs = settings.Epochs,
    BatchSize = 16,
    LearningRate = 3e-3,
    MaxSequenceLength = 96,
    Progress = new Progress<Microsoft.ML.Lora.Training.FineTuningProgress>(p =>
    {
        if (p.Step % 20 == 0 || p.ValidationLoss is not null)
        {
            Console.WriteLine($"  epoch {p.Epoch} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4}");
        }
    }),
});
var clock = Stopwatch.StartNew();
using var model = trainer.Fit(train);
Console.WriteLine($"trained in {clock.Elapsed.TotalSeconds:F0} s");

// 4. Evaluate on the held-out 20% with ML.NET's evaluator.
var metrics = ml.BinaryClassification.Evaluate(model.Transform(split.TestSet));
double majority = 1 - messages.Count(m => m.Label) / (double)messages.Count;
Console.WriteLine($"test accuracy {metrics.Accuracy:P2} (majority baseline {majority:P2}), AUC {metrics.AreaUnderRocCurve:F4}, F1 {metrics.F1Score:F4}");

// 5. Save, load back in a fresh context, predict.
var zip = Path.Combine(work, "sms-spam-lora.zip");
ml.Model.Save(model, train.Schema, zip);
Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length / 1024} KiB)");

var ml2 = new MLContext().RegisterLora();
var loaded = ml2.Model.Load(zip, out _);
var engine = ml2.Model.CreatePredictionEngine<SmsMessage, SpamPrediction>(loaded);
foreach (var text in new[] { "WINNER!! You have won a 1000 cash prize. Call 09061701461 to claim now", "Are we still meeting for lunch tomorrow?" })
{
    var p = engine.Predict(new SmsMessage { Text = text });
    Console.WriteLine($"  {(p.PredictedLabel ? "spam" : "ham "),-4} p={p.Probability:F3}  {text}");
}
(loaded as IDisposable)?.Dispose();
