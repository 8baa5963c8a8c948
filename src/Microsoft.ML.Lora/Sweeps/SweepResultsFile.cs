using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// The sweep's JSON results file: the sweep's description (so a resume can check it is the same sweep)
/// and every evaluation so far. Rewritten whole after each evaluation via a temporary file, so an
/// interruption leaves either the old or the new contents, never half a file.
/// </summary>
public static class SweepResultsFile
{
    /// <summary>The format tag written into every file.</summary>
    public const string Format = "mllora-sweep-results/1";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        // A diverged trial's metric is NaN; plain JSON has no NaN literal.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Writes the file (atomically replacing any earlier version).</summary>
    public static void Write(string path, string sweepDescription, SweepObjective objective, IReadOnlyList<SweepTrialRecord> evaluations)
    {
        ArgumentNullException.ThrowIfNull(path);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        var contents = new FileContents
        {
            Format = Format,
            Sweep = sweepDescription,
            Objective = objective.ToString(),
            Evaluations = [.. evaluations],
        };
        IO.AtomicOutput.WriteAllText(path, JsonSerializer.Serialize(contents, Json));
    }

    /// <summary>Writes a finished sweep's evaluations (for sweeps run without <see cref="LoraSweepOptions.ResultsFile"/>).</summary>
    public static void Write(string path, SweepRunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        Write(path, result.Description, result.Objective, result.Evaluations);
    }

    /// <summary>
    /// Reads the evaluations of a file written by <see cref="Write(string, string, SweepObjective, IReadOnlyList{SweepTrialRecord})"/>. Throws <see cref="SweepResultsFileException"/>
    /// when the file is not a results file, or when <paramref name="expectedDescription"/> is given and the
    /// file belongs to a different sweep.
    /// </summary>
    public static IReadOnlyList<SweepTrialRecord> Read(string path, string? expectedDescription = null)
    {
        FileContents? contents;
        try
        {
            contents = JsonSerializer.Deserialize<FileContents>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new SweepResultsFileException(path, $"not valid sweep results JSON ({e.Message}).", e);
        }
        if (contents is null || contents.Format != Format || contents.Evaluations is null)
        {
            throw new SweepResultsFileException(path, $"not a sweep results file (expected \"format\": \"{Format}\" and an \"evaluations\" list).");
        }
        if (expectedDescription is not null && contents.Sweep != expectedDescription)
        {
            throw new SweepResultsFileException(path,
                $"it was written by a different sweep, so it cannot be resumed. Delete it or use another output folder. {Difference(contents.Sweep ?? "", expectedDescription)}");
        }
        for (var i = 0; i < contents.Evaluations.Count; i++)
        {
            var e = contents.Evaluations[i];
            if (e is null || e.Settings is null || e.Trial < 1 || e.Rung < 0 || e.Steps < 0 || e.StepsSpent < 0)
            {
                throw new SweepResultsFileException(path, $"evaluation #{i + 1} is incomplete or has a negative trial, rung or step count.");
            }
        }
        return contents.Evaluations;
    }

    // Only the settings that differ: a full description runs to a screenful.
    private static string Difference(string recorded, string expected)
    {
        static string[] Parts(string description) => description.Split([";", " "], StringSplitOptions.RemoveEmptyEntries);
        var before = Parts(recorded);
        var now = Parts(expected);
        return $"The file has {string.Join(" ", before.Except(now))}; this sweep has {string.Join(" ", now.Except(before))}.";
    }

    private sealed class FileContents
    {
        [JsonPropertyName("format")] public string? Format { get; init; }

        [JsonPropertyName("sweep")] public string? Sweep { get; init; }

        [JsonPropertyName("objective")] public string? Objective { get; init; }

        [JsonPropertyName("evaluations")] public List<SweepTrialRecord>? Evaluations { get; init; }
    }
}
