namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>Readers for the labelled data sets in ../shared/data/datasets.</summary>
public static class RealDataSets
{
    public sealed class SmsRow
    {
        public string Text { get; set; } = "";
        public bool Label { get; set; }
    }

    public sealed class Sst2Row
    {
        public string Text { get; set; } = "";
        public bool Label { get; set; }
    }

    public sealed class E2eRow
    {
        public string Prompt { get; set; } = "";
        public string Response { get; set; } = "";
    }

    /// <summary>SMS Spam Collection: "Label\tSMS" with a header; spam is the positive class.</summary>
    public static List<SmsRow> SmsSpam() =>
        File.ReadLines(SharedData.PathOf("datasets/sms-spam/SMSSpamCollection")).Skip(1)
            .Select(l => l.Split('\t', 2))
            .Select(p => new SmsRow { Label = p[0] == "spam", Text = p[1] })
            .ToList();

    /// <summary>SST-2: "sentence\tlabel" with a header, label 1 = positive.</summary>
    public static List<Sst2Row> Sst2(string split) =>
        File.ReadLines(SharedData.PathOf($"datasets/sst2/{split}.tsv")).Skip(1)
            .Select(l => l.Split('\t'))
            .Select(p => new Sst2Row { Text = p[0].Trim(), Label = p[1].Trim() == "1" })
            .ToList();

    /// <summary>E2E NLG: "meaning representation||reference" per line.</summary>
    public static List<E2eRow> E2e(string split) =>
        File.ReadLines(SharedData.PathOf($"datasets/e2e/{split}.txt"))
            .Select(l => l.Split("||", 2))
            .Where(p => p.Length == 2)
            .Select(p => new E2eRow { Prompt = p[0].Trim(), Response = p[1].Trim() })
            .ToList();

    /// <summary>A deterministic shuffle (Fisher–Yates with a seeded Random).</summary>
    public static List<T> Shuffled<T>(IEnumerable<T> rows, int seed)
    {
        var list = rows.ToList();
        new Random(seed).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list));
        return list;
    }
}
