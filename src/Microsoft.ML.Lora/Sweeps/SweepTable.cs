using System.Globalization;
using System.Text;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>The results table as text (for a console) and as CSV.</summary>
public static class SweepTable
{
    private static readonly string[] Headers =
        ["trial", "rung", "r", "alpha", "alpha/r", "lr", "dropout", "targets", "rslora", "epochs", "metric", "steps", "steps_spent", "seconds"];

    /// <summary>One line per evaluation under a header, columns aligned; the best final result is starred.</summary>
    public static string Format(SweepRunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var rows = result.Evaluations.Select(e => Cells(e, e == result.Best)).ToList();
        var headers = Headers.ToArray();
        headers[10] = SweepMetrics.NameOf(result.Objective.Metric);
        var widths = headers.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        text.AppendLine(string.Join("  ", headers.Select((h, i) => h.PadLeft(widths[i]))));
        foreach (var row in rows)
        {
            text.AppendLine(string.Join("  ", row.Select((c, i) => c.PadLeft(widths[i]))));
        }
        return text.ToString();
    }

    /// <summary>Writes every evaluation as CSV (RFC 4180; with each reported metric in its own column).</summary>
    public static void WriteCsv(string path, SweepRunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        IO.AtomicOutput.WriteFile(path, temp => WriteCsvTo(temp, result));
    }

    private static void WriteCsvTo(string path, SweepRunResult result)
    {
        var metricNames = result.Evaluations.SelectMany(e => e.Metrics.Keys).Distinct().Order(StringComparer.Ordinal).ToArray();
        using var csv = new StreamWriter(path, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        WriteRecord(csv, Headers.Take(Headers.Length - 4).Append("objective").Concat(metricNames).Concat(Headers.TakeLast(3)));
        foreach (var e in result.Evaluations)
        {
            WriteRecord(csv, Cells(e, best: false).Take(Headers.Length - 4)
                .Append(Number(e.Metric))
                .Concat(metricNames.Select(name => e.Metrics.TryGetValue(name, out var value) ? Number(value) : ""))
                .Append(e.Steps.ToString(CultureInfo.InvariantCulture))
                .Append(e.StepsSpent.ToString(CultureInfo.InvariantCulture))
                .Append(e.Seconds.ToString("F3", CultureInfo.InvariantCulture)));
        }
    }

    private static void WriteRecord(TextWriter writer, IEnumerable<string> fields)
    {
        writer.Write(string.Join(',', fields.Select(Quote)));
        writer.Write("\r\n");
    }

    /// <summary>A field in quotes (inner quotes doubled) when it holds a comma, a quote or a line break.</summary>
    private static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static string[] Cells(SweepTrialRecord e, bool best)
    {
        var s = e.Settings;
        return
        [
            (best ? "*" : "") + e.Trial.ToString(CultureInfo.InvariantCulture),
            e.Rung.ToString(CultureInfo.InvariantCulture),
            s.Rank.ToString(CultureInfo.InvariantCulture),
            Number(s.Alpha),
            Number(s.AlphaRatio),
            s.LearningRate.ToString("G4", CultureInfo.InvariantCulture),
            Number(s.Dropout),
            s.TargetModules,
            s.UseRsLora ? "on" : "off",
            s.Epochs.ToString(CultureInfo.InvariantCulture),
            e.Metric.ToString("F4", CultureInfo.InvariantCulture),
            e.Steps.ToString(CultureInfo.InvariantCulture),
            e.StepsSpent.ToString(CultureInfo.InvariantCulture),
            e.Seconds.ToString("F1", CultureInfo.InvariantCulture),
        ];
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
