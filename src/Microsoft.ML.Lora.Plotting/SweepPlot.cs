using System.Globalization;
using Microsoft.ML.Lora.Sweeps;
using ScottPlot;

namespace Microsoft.ML.Lora.Plotting;

/// <summary>
/// The sweep's picture, rendered with ScottPlot (headless, through SkiaSharp): on the left the metric against
/// r (log scale) with one line per α/r ratio (or per α when α was swept absolutely), on the right every
/// evaluation's metric against the steps the sweep had spent when it finished, with the best so far.
/// </summary>
public static class SweepPlot
{
    /// <summary>Writes the plot as <see cref="SweepOutputFiles.Plot"/> into a sweep's output folder, when any trial finished.</summary>
    public static void WriteInto(string folder, SweepRunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Evaluations.Count > 0)
        {
            Directory.CreateDirectory(folder);
            Microsoft.ML.Lora.IO.AtomicOutput.WriteFile(Path.Combine(folder, SweepOutputFiles.Plot), temp => WritePng(temp, result));
        }
    }

    /// <summary>Writes the two-panel PNG.</summary>
    public static void WritePng(string path, SweepRunResult result, int width = 1400, int height = 560)
    {
        ArgumentNullException.ThrowIfNull(result);
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var metricName = SweepMetrics.NameOf(result.Objective.Metric);
        DrawMetricByRank(multiplot.GetPlot(0), result, metricName);
        DrawMetricByCost(multiplot.GetPlot(1), result, metricName);
        multiplot.SavePng(path, width, height);
    }

    private static void DrawMetricByRank(Plot plot, SweepRunResult result, string metricName)
    {
        var finals = result.FinalResults.Where(e => double.IsFinite(e.Metric)).ToArray();
        // Lines by α/r unless α was swept absolutely (then the ratio changes along every line and α is the constant).
        var byRatio = finals.Select(e => Key(e.Settings.AlphaRatio)).Distinct().Count() <= finals.Select(e => Key(e.Settings.Alpha)).Distinct().Count();
        var palette = new ScottPlot.Palettes.Category10();
        var index = 0;
        foreach (var group in finals.GroupBy(e => Key(byRatio ? e.Settings.AlphaRatio : e.Settings.Alpha)).OrderBy(g => g.Key))
        {
            var points = group.GroupBy(e => e.Settings.Rank).OrderBy(g => g.Key)
                .Select(g => (X: Math.Log2(g.Key), Y: g.OrderBy(e => e.Metric, Comparer<double>.Create(result.Objective.CompareBestFirst)).First().Metric))
                .ToArray();
            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), palette.GetColor(index++));
            line.LegendText = (byRatio ? "α/r = " : "α = ") + group.Key.ToString(CultureInfo.InvariantCulture);
            line.LineWidth = 2;
            line.MarkerSize = 8;
        }
        var ranks = finals.Select(e => e.Settings.Rank).Distinct().Order().ToArray();
        plot.Axes.Bottom.SetTicks(ranks.Select(r => Math.Log2(r)).ToArray(), ranks.Select(r => r.ToString(CultureInfo.InvariantCulture)).ToArray());
        var rungs = result.Evaluations.Any(e => e.Rung > 0) ? ", each trial at its last rung" : "";
        plot.Title($"{metricName} vs rank (best per r{rungs})");
        plot.XLabel("LoRA rank r (log scale)");
        plot.YLabel($"validation {metricName}");
        plot.ShowLegend(Alignment.LowerRight);
    }

    private static void DrawMetricByCost(Plot plot, SweepRunResult result, string metricName)
    {
        var spent = 0L;
        var cost = new List<double>();
        var metric = new List<double>();
        var bestCost = new List<double>();
        var bestMetric = new List<double>();
        foreach (var e in result.Evaluations)
        {
            spent += e.StepsSpent;
            if (!double.IsFinite(e.Metric))
            {
                continue;
            }
            cost.Add(spent);
            metric.Add(e.Metric);
            if (bestMetric.Count == 0 || result.Objective.CompareBestFirst(e.Metric, bestMetric[^1]) < 0)
            {
                bestCost.Add(spent);
                bestMetric.Add(e.Metric);
            }
        }
        if (bestMetric.Count > 0)
        {
            bestCost.Add(spent);
            bestMetric.Add(bestMetric[^1]);
        }
        var points = plot.Add.ScatterPoints(cost.ToArray(), metric.ToArray());
        points.LegendText = "evaluation";
        points.MarkerSize = 7;
        var best = plot.Add.Scatter(bestCost.ToArray(), bestMetric.ToArray());
        best.ConnectStyle = ConnectStyle.StepHorizontal;
        best.LegendText = "best so far";
        best.LineWidth = 2;
        best.MarkerSize = 0;
        plot.Title($"{metricName} vs cost ({result.StepsSpent} training steps in all)");
        plot.XLabel("training steps spent by the sweep");
        plot.YLabel($"validation {metricName}");
        plot.ShowLegend(Alignment.LowerRight);
    }

    private static double Key(double value) => Math.Round(value, 6);
}
