namespace QuickStart;

/// <summary>One SMS message.</summary>
public sealed class SmsMessage
{
    public string Text { get; set; } = "";
    public bool Label { get; set; }
}

/// <summary>The columns the binary classifier adds.</summary>
public sealed class SpamPrediction
{
    public bool PredictedLabel { get; set; }
    public float Probability { get; set; }
    public float Score { get; set; }
}

/// <summary>Reads the UCI SMS Spam Collection (tab-separated: Label, SMS; a header line).</summary>
public static class SmsSpam
{
    public static List<SmsMessage> Load(string path)
    {
        var rows = new List<SmsMessage>();
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            int tab = line.IndexOf('\t');
            if (tab <= 0)
            {
                throw new InvalidDataException($"{path}: line without a tab: '{line}'.");
            }
            rows.Add(new SmsMessage { Label = line[..tab] == "spam", Text = line[(tab + 1)..] });
        }
        return rows;
    }
}

/// <summary>Finds ../shared/data beside the repository root.</summary>
public static class SharedDataLocator
{
    public static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LoraMlNet.sln")))
            {
                var shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
                return Directory.Exists(shared)
                    ? shared
                    : throw new DirectoryNotFoundException($"The quick start reads ../shared/data beside the repository ({shared}); it is missing.");
            }
        }
        throw new DirectoryNotFoundException("Run the quick start from the repository (LoraMlNet.sln not found above the program).");
    }
}

/// <summary>Command-line settings of the quick start.</summary>
public sealed record QuickStartSettings(int TrainRows, int Epochs, string OutputDirectory)
{
    public static QuickStartSettings Parse(string[] args)
    {
        var s = new QuickStartSettings(1000, 2, "out/quickstart");
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            s = args[i] switch
            {
                "--train-rows" => s with { TrainRows = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) },
                "--epochs" => s with { Epochs = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) },
                "--out" => s with { OutputDirectory = args[i + 1] },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'. Options: --train-rows N, --epochs N, --out DIR."),
            };
        }
        return s;
    }
}
