// A new user's console application (scripts/package-test.sh copies it into a project created outside the repository,
// which references the Microsoft.ML.Lora package from a local feed). It fine-tunes the pretrained stories260K Llama on
// 200 SMS messages for one epoch, saves the model, loads it in a fresh MLContext and predicts.
// Usage: dotnet run -- SHARED_DATA_DIR WORK_DIR
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;

var shared = args[0];
// Loading the library changes nothing in the process: its native settings wait for its first use of TorchSharp.
var mapsBefore = File.ReadAllText("/proc/self/maps");
Console.WriteLine($"untouched before first use: {(!mapsBefore.Contains("libmllora_mkl_cpu_dispatch.so", StringComparison.Ordinal) && NativeGetenv("GOMP_SPINCOUNT") == IntPtr.Zero && !Microsoft.ML.Lora.Runtime.LoraRuntime.IsStarted ? "yes" : "no")}");
[System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getenv")]
static extern IntPtr NativeGetenv(string name);

var work = Directory.CreateDirectory(args[1]).FullName;
var baseModel = Path.Combine(work, "stories260K");
Llama2cImporter.Convert(Path.Combine(shared, "models/stories260K/stories260K.bin"), baseModel,
    Path.Combine(shared, "models/stories260K/tok512.bin"));

var ml = new MLContext(seed: 0);
var all = ml.Data.LoadFromTextFile<Message>(Path.Combine(shared, "datasets/sms-spam/SMSSpamCollection"), hasHeader: true);
var train = ml.Data.TakeRows(all, 200);
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.LoraFineTune(baseModelPath: baseModel, rank: 8, alpha: 16, numberOfEpochs: 1))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
var zip = Path.Combine(work, "spam.zip");
using (var model = pipeline.Fit(train))
{
    ml.Model.Save(model, train.Schema, zip);
}
Console.WriteLine($"saved {zip} ({new FileInfo(zip).Length} bytes)");

var ml2 = new MLContext();
var loaded = ml2.Model.LoadWithLora(zip, out _);
var engine = ml2.Model.CreatePredictionEngine<Message, Prediction>(loaded);
foreach (var text in new[] { "WINNER!! You have won a 1000 cash prize. Call 09061701461 to claim now", "Are we still meeting for lunch tomorrow?" })
{
    var prediction = engine.Predict(new Message { Text = text });
    Console.WriteLine($"predicted {prediction.PredictedLabel} (scores {string.Join(" ", prediction.Score.Select(s => s.ToString("F3")))}): {text}");
}
(loaded as IDisposable)?.Dispose();

// The package's native helpers came with it: both are mapped into this process, and the library says what it changed.
var maps = File.ReadAllText("/proc/self/maps");
Console.WriteLine($"runtime changes: {string.Join("; ", Microsoft.ML.Lora.Runtime.LoraRuntime.Changes)}");
foreach (var library in new[] { "libmllora_mkl_cpu_dispatch.so", "libtorchsharp_glibcxx_shim.so" })
{
    Console.WriteLine($"loaded {library}: {(maps.Contains(library, StringComparison.Ordinal) ? "yes" : "no")}");
}

public sealed class Message
{
    [LoadColumn(0)] public string Label { get; set; } = "";
    [LoadColumn(1)] public string Text { get; set; } = "";
}

public sealed class Prediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = [];
}
