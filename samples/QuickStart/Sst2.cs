namespace QuickStart;

/// <summary>One SST-2 sentence: its text and whether it is positive.</summary>
public sealed class Sentence
{
    public string Text { get; set; } = "";
    public bool Label { get; set; }
}

/// <summary>The columns the binary classifier adds.</summary>
public sealed class SentimentPrediction
{
    public bool PredictedLabel { get; set; }
    public float Probability { get; set; }
}

/// <summary>Reads the SST-2 files of ../shared/data (sentence&lt;TAB&gt;label after a header; label 1 is positive).</summary>
public static class Sst2
{
    public static List<Sentence> Load(string path)
    {
        var rows = new List<Sentence>();
        foreach (var (line, number) in File.ReadLines(path).Select((l, i) => (l, i + 1)).Skip(1))
        {
            var parts = line.Split('\t');
            if (parts.Length != 2 || parts[1].Trim() is not ("0" or "1"))
            {
                throw new InvalidDataException($"{path}: line {number} is not 'sentence<TAB>0|1': '{line}'.");
            }
            rows.Add(new Sentence { Text = parts[0].Trim(), Label = parts[1].Trim() == "1" });
        }
        return rows;
    }
}
