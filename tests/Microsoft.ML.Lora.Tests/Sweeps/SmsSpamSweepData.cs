using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.Sweeps;

/// <summary>
/// The real data of the sweep integration tests: the pretrained stories260K Llama converted to a Hugging Face
/// folder (with its SentencePiece tokenizer), and a fixed, seeded subset of the UCI SMS Spam Collection.
/// </summary>
internal static class SmsSpamSweepData
{
    public sealed class Row
    {
        public string Text { get; set; } = "";

        public bool Label { get; set; }
    }

    /// <summary>Converts stories260K.bin + tok512.bin into <paramref name="folder"/> and returns it.</summary>
    public static string ConvertStories260K(string folder)
    {
        Llama2cImporter.Convert(
            SharedData.PathOf("models/stories260K/stories260K.bin"), folder, SharedData.PathOf("models/stories260K/tok512.bin"),
            (tokenizer, output, _) => Llama2cTokenizerConverter.ConvertToFolder(tokenizer, output));
        return folder;
    }

    /// <summary>Disjoint train and validation rows, drawn by a seeded shuffle of the whole collection.</summary>
    public static (Row[] Train, Row[] Validation) Split(int trainRows, int validationRows, int seed = 11)
    {
        var rows = File.ReadLines(SharedData.PathOf("datasets/sms-spam/SMSSpamCollection"))
            .Skip(1)
            .Select(line => line.Split('\t', 2))
            .Where(parts => parts.Length == 2)
            .Select(parts => new Row { Label = parts[0] == "spam", Text = parts[1] })
            .ToArray();
        new Random(seed).Shuffle(rows);
        return (rows[..trainRows], rows[trainRows..(trainRows + validationRows)]);
    }
}
