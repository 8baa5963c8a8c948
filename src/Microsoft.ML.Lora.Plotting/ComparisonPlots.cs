using ScottPlot;

namespace Microsoft.ML.Lora.Plotting;

/// <summary>One line of <see cref="ComparisonPlots.WriteLines"/>: points (x, mean, standard deviation).</summary>
/// <param name="Name">Legend text.</param>
/// <param name="Points">The points in x order; a standard deviation of 0 draws no error bar.</param>
public sealed record PlotSeries(string Name, IReadOnlyList<(double X, double Mean, double Std)> Points);

/// <summary>One bar of <see cref="ComparisonPlots.WriteBars"/>.</summary>
/// <param name="Label">The category under the bar.</param>
/// <param name="Mean">Its height.</param>
/// <param name="Std">Its error bar (0: none).</param>
public sealed record PlotBar(string Label, double Mean, double Std);

/// <summary>
/// Plots for results reports, rendered headless with ScottPlot: a metric against a setting (one line per method, with
/// ±1 standard deviation bars over seeds) and a metric per method as bars.
/// </summary>
public static class ComparisonPlots
{
    /// <summary>Writes a line plot; <paramref name="xTicks"/> names the x positions (e.g. log2 r labelled with r).</summary>
    public static void WriteLines(string path, string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series,
        IReadOnlyList<(double X, string Label)>? xTicks = null, int width = 900, int height = 560)
    {
        ArgumentNullException.ThrowIfNull(series);
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < series.Count; i++)
        {
            var points = series[i].Points;
            var xs = points.Select(p => p.X).ToArray();
            var ys = points.Select(p => p.Mean).ToArray();
            var color = palette.GetColor(i);
            var line = plot.Add.Scatter(xs, ys, color);
            line.LegendText = series[i].Name;
            line.LineWidth = points.Count > 1 ? 2 : 0;
            line.MarkerSize = 8;
            if (points.Any(p => p.Std > 0))
            {
                var errors = plot.Add.ErrorBar(xs, ys, points.Select(p => p.Std).ToArray());
                errors.Color = color;
            }
        }
        if (xTicks is { Count: > 0 })
        {
            plot.Axes.Bottom.SetTicks([.. xTicks.Select(t => t.X)], [.. xTicks.Select(t => t.Label)]);
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.LowerRight);
        Save(plot, path, width, height);
    }

    /// <summary>Writes a bar chart with error bars.</summary>
    public static void WriteBars(string path, string title, string yLabel, IReadOnlyList<PlotBar> bars, int width = 900, int height = 560)
    {
        ArgumentNullException.ThrowIfNull(bars);
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var items = bars.Select((b, i) => new Bar { Position = i, Value = b.Mean, Error = b.Std, FillColor = palette.GetColor(i) }).ToArray();
        plot.Add.Bars(items);
        plot.Axes.Bottom.SetTicks([.. bars.Select((_, i) => (double)i)], [.. bars.Select(b => b.Label)]);
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel(yLabel);
        Save(plot, path, width, height);
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder)
        {
            Directory.CreateDirectory(folder);
        }
        plot.SavePng(path, width, height);
    }
}
