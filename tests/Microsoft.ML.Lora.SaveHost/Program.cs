using Microsoft.ML;
using Microsoft.ML.Lora.MLNet;

// Usage: SaveHost zip|merged MODEL.zip TARGET
//   zip:    saves MODEL.zip's model to the zip TARGET with mlContext.Model.SaveAtomically, again and again;
//   merged: writes its merged Hugging Face folder to TARGET with SaveMerged, again and again.
// Prints "ready" once the model is loaded and "saved N" after each complete save, until it is killed.
if (args.Length != 3 || args[0] is not ("zip" or "merged"))
{
    Console.Error.WriteLine("usage: SaveHost zip|merged MODEL.zip TARGET");
    return 2;
}
var ml = new MLContext(seed: 0);
var model = ml.Model.LoadWithLora(args[1], out var schema);
var lora = LoraFineTuneTransformer.FindIn(model) ?? throw new InvalidDataException($"'{args[1]}' holds no LoRA model.");
Console.WriteLine("ready");
for (long n = 1; ; n++)
{
    if (args[0] == "zip")
    {
        ml.Model.SaveAtomically(model, schema, args[2]);
    }
    else
    {
        lora.SaveMerged(args[2]);
    }
    Console.WriteLine($"saved {n}");
}
