namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>A toy labelled data set whose label is carried by the last word (learnable by a tiny random model).</summary>
public static class SentimentRows
{
    public sealed class Row
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    public sealed class BinaryRow
    {
        public string Text { get; set; } = "";
        public bool Label { get; set; }
    }

    public sealed class RegressionRow
    {
        public string Text { get; set; } = "";
        public float Label { get; set; }
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = [];
        public uint PredictedLabel { get; set; }
    }

    private static readonly string[] Subjects = ["the film", "this meal", "my day", "the book", "our trip", "that song", "the hotel", "his idea"];
    private static readonly string[] Positive = ["great", "wonderful", "excellent", "lovely"];
    private static readonly string[] Negative = ["awful", "terrible", "horrible", "dreadful"];

    public static List<Row> Multiclass(int count, int seed)
    {
        var random = new Random(seed);
        var rows = new List<Row>();
        for (int i = 0; i < count; i++)
        {
            bool good = random.Next(2) == 0;
            var words = good ? Positive : Negative;
            rows.Add(new Row { Text = $"{Subjects[random.Next(Subjects.Length)]} was {words[random.Next(words.Length)]}", Label = good ? "pos" : "neg" });
        }
        return rows;
    }

    public static List<BinaryRow> Binary(int count, int seed) =>
        Multiclass(count, seed).Select(r => new BinaryRow { Text = r.Text, Label = r.Label == "pos" }).ToList();
}
