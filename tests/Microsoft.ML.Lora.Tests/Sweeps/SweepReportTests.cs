using System.Globalization;
using CsvHelper;
using Microsoft.ML.Lora.Plotting;
using Microsoft.ML.Lora.Sweeps;

namespace Microsoft.ML.Lora.Tests.Sweeps;

public sealed class SweepReportTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sweep-report-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Csv_HoldsEveryEvaluationAndReadsBackWithItsMetrics()
    {
        var result = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Asha)).Run(new SyntheticTrialRunner());
        var path = Path.Combine(_folder, "results.csv");
        SweepTable.WriteCsv(path, result);

        using var csv = CsvReader.FromFile(path, CsvReaderOptions.Default, FileOptions.None);
        var rows = new List<(int Trial, int Rung, string Targets, double Metric, double Loss, long Steps)>();
        while (csv.Read())
        {
            rows.Add((int.Parse(csv.GetString("trial"), CultureInfo.InvariantCulture), int.Parse(csv.GetString("rung"), CultureInfo.InvariantCulture),
                csv.GetString("targets"), double.Parse(csv.GetString("objective"), CultureInfo.InvariantCulture),
                double.Parse(csv.GetString("loss"), CultureInfo.InvariantCulture), long.Parse(csv.GetString("steps"), CultureInfo.InvariantCulture)));
        }
        Assert.Equal(result.Evaluations.Select(e => (e.Trial, e.Rung, e.Settings.TargetModules, e.Metric, 1 - e.Metric, e.Steps)), rows);
    }

    [Fact]
    public void Text_AlignsColumnsAndStarsTheBestTrial()
    {
        var result = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Grid)).Run(new SyntheticTrialRunner());
        var lines = SweepTable.Format(result).TrimEnd().Split(Environment.NewLine);

        Assert.Equal(31, lines.Length);
        Assert.Contains("accuracy", lines[0]);
        Assert.Single(lines, l => l.TrimStart().StartsWith('*'));
        Assert.StartsWith($"*{result.Best!.Trial}", lines.Single(l => l.TrimStart().StartsWith('*')).TrimStart());
        Assert.Single(lines.Select(l => l.Length).Distinct());
    }

    [Fact]
    public void Plot_RendersAPngHeadless()
    {
        var result = SweepTestSpaces.Sweeper(SweepTestSpaces.Options(SweepStrategy.Asha)).Run(new SyntheticTrialRunner());
        var path = Path.Combine(_folder, "sweep.png");
        SweepPlot.WritePng(path, result, width: 1000, height: 400);

        var bytes = File.ReadAllBytes(path);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        // The IHDR chunk holds the size big-endian at bytes 16..23.
        Assert.Equal(1000, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(400, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        Assert.True(bytes.Length > 10_000, $"a {bytes.Length}-byte PNG is too small to hold two drawn panels");
    }
}
