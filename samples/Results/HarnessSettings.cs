using System.Globalization;

namespace Results;

/// <summary>
/// The sizes and hyper-parameters of the report. Full mode is the report's; quick mode runs every table on tiny subsets
/// with one seed (a minute or two, for CI). The learning rates are fixed per method, not tuned on the dev sets.
/// </summary>
public sealed record HarnessSettings
{
    public bool Quick { get; init; }
    /// <summary>Rewrite the report from results-runs.jsonl without running any cell.</summary>
    public bool ReportOnly { get; init; }
    public string OutputDirectory { get; init; } = "docs";
    public int[] Seeds { get; init; } = [0, 1, 2];
    public int Sst2TrainRows { get; init; } = 1000;
    public int? Sst2DevRows { get; init; }
    public int SmsTrainRows { get; init; } = 2000;
    public int? SmsTestRows { get; init; }
    public int ClassifierEpochs { get; init; } = 2;
    public int BatchSize { get; init; } = 8;
    public int MaxLength { get; init; } = 64;
    public int[] Ranks { get; init; } = [1, 2, 4, 8, 16];
    public bool FullTable5 { get; init; } = true;
    public int? E2ETrainMeaningRepresentations { get; init; }
    public int? E2ETestMeaningRepresentations { get; init; }
    public int E2EEpochs { get; init; } = 2;
    public int E2EMaxNewTokens { get; init; } = 64;
    public int ChainCycles { get; init; } = 3;

    /// <summary>Peak learning rate per method: LoRA and the head take large steps; full fine-tuning BERT's usual 5e-5.</summary>
    public static double LearningRate(string method, string model) => (method, model) switch
    {
        ("full", "stories260K") => 1e-3,
        ("full", _) => 5e-5,
        ("head-only", _) => 1e-2,
        (_, "stories260K") => 3e-3,
        _ => 1e-3,
    };

    public static HarnessSettings Parse(string[] args)
    {
        var settings = new HarnessSettings();
        for (int i = 0; i < args.Length; i++)
        {
            settings = args[i] switch
            {
                "--quick" => settings with
                {
                    Quick = true, OutputDirectory = settings.OutputDirectory == "docs" ? "out/results-quick" : settings.OutputDirectory,
                    Seeds = [0], Sst2TrainRows = 48, Sst2DevRows = 48, SmsTrainRows = 48, SmsTestRows = 48, ClassifierEpochs = 1,
                    MaxLength = 32, Ranks = [1, 8], FullTable5 = false, E2ETrainMeaningRepresentations = 12,
                    E2ETestMeaningRepresentations = 8, E2EEpochs = 1, E2EMaxNewTokens = 16,
                },
                "--report-only" => settings with { ReportOnly = true },
                "--out" when i + 1 < args.Length => settings with { OutputDirectory = args[++i] },
                "--seeds" when i + 1 < args.Length => settings with { Seeds = [.. args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))] },
                // A reduced E2E run (the table's cells on fewer meaning representations), for machines where the full one is too slow.
                "--e2e-train-mrs" when i + 1 < args.Length => settings with { E2ETrainMeaningRepresentations = int.Parse(args[++i], CultureInfo.InvariantCulture) },
                "--e2e-test-mrs" when i + 1 < args.Length => settings with { E2ETestMeaningRepresentations = int.Parse(args[++i], CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"Unknown argument '{args[i]}'. Usage: [--quick] [--report-only] [--out DIR] [--seeds 0,1,2] [--e2e-train-mrs N] [--e2e-test-mrs N]"),
            };
        }
        return settings;
    }

    /// <summary>The flags that reproduce these settings in a child process.</summary>
    public string[] ToArgs() =>
    [
        .. (Quick ? new[] { "--quick" } : []), "--out", OutputDirectory, "--seeds", string.Join(',', Seeds),
        .. (!Quick && E2ETrainMeaningRepresentations is { } train ? new[] { "--e2e-train-mrs", train.ToString(CultureInfo.InvariantCulture) } : []),
        .. (!Quick && E2ETestMeaningRepresentations is { } test ? new[] { "--e2e-test-mrs", test.ToString(CultureInfo.InvariantCulture) } : []),
    ];
}
