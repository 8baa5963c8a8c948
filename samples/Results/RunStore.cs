using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Results;

/// <summary>
/// Runs the plan's cells, each in a child process of this program (so peak memory and time are the cell's own), and
/// keeps finished records in runs.jsonl in the output folder: the same command resumes where it stopped, and a record
/// whose cell is still in the plan is never recomputed. Failed cells are reported, not stored, so they run again.
/// </summary>
public sealed class RunStore(HarnessSettings settings)
{
    public const string ResultPrefix = "RESULT ";
    private readonly string _file = Path.Combine(settings.OutputDirectory, "results-runs.jsonl");

    /// <summary>Runs what is missing; <paramref name="afterEach"/> sees the records so far after every new cell.</summary>
    public List<RunRecord> RunAll(IReadOnlyList<CellSpec> cells, Action<IReadOnlyList<RunRecord>>? afterEach = null)
    {
        var done = Load();
        var records = new List<RunRecord>();
        for (int i = 0; i < cells.Count; i++)
        {
            var cell = cells[i];
            if (done.TryGetValue(cell.Id, out var cached))
            {
                records.Add(cached);
                continue;
            }
            if (settings.ReportOnly)
            {
                continue;
            }
            var record = RunChild(cell);
            Console.WriteLine($"[{i + 1}/{cells.Count}] {cell.Id}: {Describe(record)}");
            if (record.Error is null)
            {
                File.AppendAllText(_file, record.ToJson() + "\n");
            }
            else
            {
                Console.Error.WriteLine($"error: {cell.Id}: {record.Error}");
            }
            records.Add(record);
            afterEach?.Invoke(records);
        }
        return records;
    }

    private Dictionary<string, RunRecord> Load()
    {
        Directory.CreateDirectory(settings.OutputDirectory);
        var records = new Dictionary<string, RunRecord>(StringComparer.Ordinal);
        if (File.Exists(_file))
        {
            foreach (var line in File.ReadLines(_file).Where(l => l.Trim().Length > 0))
            {
                var record = RunRecord.FromJson(line);
                records[record.Cell.Id] = record;
            }
        }
        return records;
    }

    private RunRecord RunChild(CellSpec cell)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(typeof(RunStore).Assembly.Location);
        }
        start.ArgumentList.Add("--cell");
        start.ArgumentList.Add(Convert.ToBase64String(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(cell))));
        foreach (var arg in settings.ToArgs())
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var result = stdout.Split('\n').LastOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal));
        if (process.ExitCode == 0 && result is not null)
        {
            return RunRecord.FromJson(result[ResultPrefix.Length..]);
        }
        var lastError = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith("error: ", StringComparison.Ordinal))
            ?? stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? $"exit code {process.ExitCode}";
        return new RunRecord { Cell = cell, Error = lastError.StartsWith("error: ", StringComparison.Ordinal) ? lastError[7..] : lastError };
    }

    /// <summary>Runs one cell in this process (the child side) and prints its record.</summary>
    public static int RunCell(string encoded, HarnessSettings settings)
    {
        var cell = JsonSerializer.Deserialize<CellSpec>(Encoding.UTF8.GetString(Convert.FromBase64String(encoded)))
            ?? throw new ArgumentException("--cell holds no cell.");
        try
        {
            var record = cell.Dataset == "e2e" ? E2ECell.Run(cell, settings) : ClassificationCell.Run(cell, settings);
            Console.WriteLine(ResultPrefix + CellMeasurement.WithPeakMemory(record).ToJson());
            return 0;
        }
        catch (NotSupportedException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    private static string Describe(RunRecord r) => r.Error is not null ? "FAILED"
        : string.Join(", ", new[]
        {
            r.Accuracy is { } a ? $"accuracy {a:F4}" : null,
            r.TestLoss is { } l ? $"test loss {l:F4}" : null,
            r.Bleu is { } b ? $"BLEU {100 * b:F2}" : null,
            $"{r.WallSeconds:F0} s",
        }.Where(s => s is not null));
}
