namespace Microsoft.ML.Lora.Sweeps;

/// <summary>The files a sweep writes into its output folder (names shared by the API and <c>mllora sweep</c>).</summary>
public static class SweepOutputFiles
{
    /// <summary>The results table as CSV.</summary>
    public const string Csv = "sweep-results.csv";

    /// <summary>The evaluations as JSON: also the results file a sweep resumes from.</summary>
    public const string Json = "sweep-results.json";

    /// <summary>Metric vs r for each α/r, and metric vs cost (written by the Microsoft.ML.Lora.Plotting package).</summary>
    public const string Plot = "sweep-plot.png";

    /// <summary>The best trial's model, an ML.NET model zip.</summary>
    public const string BestModel = "best-model.zip";

    /// <summary>Writes the CSV and the JSON into <paramref name="folder"/> (the plot is Microsoft.ML.Lora.Plotting's <c>SweepPlot.WriteInto</c>).</summary>
    public static void Write(string folder, SweepRunResult result)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(folder);
        var json = Path.Combine(folder, Json);
        SweepResultsFile.Write(json, result);
        SweepTable.WriteCsv(Path.Combine(folder, Csv), result);
    }
}
