using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet;

var ml = new MLContext(seed: 0);
IDataView data = ml.Data.LoadFromTextFile<Row>("../shared/data/datasets/sms-spam/SMSSpamCollection", hasHeader: true);
var split = ml.Data.TrainTestSplit(data, testFraction: 0.2, seed: 0);

var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.LoraFineTune(
        baseModelPath: "models/stories260K",   // a Hugging Face folder: config.json, *.safetensors, tokenizer
        rank: 8, alpha: 16, numberOfEpochs: 1))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel"));   // key index -> "spam"/"ham"

using (var model = pipeline.Fit(split.TrainSet))
{
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(split.TestSet));
    Console.WriteLine($"test accuracy {metrics.MicroAccuracy:P2}");
    ml.Model.Save(model, data.Schema, "spam.zip");
}

// Later, in another process:
var ml2 = new MLContext();
var loaded = ml2.Model.LoadWithLora("spam.zip", out _);   // = RegisterLora() + Model.Load, typed errors unwrapped
var engine = ml2.Model.CreatePredictionEngine<Row, Prediction>(loaded);
Console.WriteLine(engine.Predict(new Row { Text = "WINNER!! You have won a 1000 cash prize. Call 09061701461 now" }).PredictedText);
Console.WriteLine(engine.Predict(new Row { Text = "Are we still meeting for lunch tomorrow?" }).PredictedText);

public sealed class Row
{
    [LoadColumn(0)] public string Label { get; set; } = "";   // "ham" or "spam"
    [LoadColumn(1)] public string Text { get; set; } = "";
}

public sealed class Prediction
{
    public string PredictedText { get; set; } = "";
}
