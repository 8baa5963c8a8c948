using System.Globalization;
using Microsoft.ML.Lora.Analysis;
using ScottPlot;

namespace Microsoft.ML.Lora.Plotting;

/// <summary>
/// Pictures of the adapter analyses (ScottPlot, headless): the spectrum of ΔW, φ heat maps per module type like
/// the LoRA paper's Figure 3, and grouped bar charts per layer and module type (summary, amplification).
/// </summary>
public static class AdapterAnalysisPlots
{
    /// <summary>The spectrum picture's file name.</summary>
    public const string SpectrumFile = "spectrum.png";

    /// <summary>The summary picture's file name.</summary>
    public const string SummaryFile = "summary.png";

    /// <summary>The amplification picture's file name.</summary>
    public const string AmplificationFile = "amplification.png";

    /// <summary>The file name of one module type's φ heat maps.</summary>
    public static string SimilarityFile(string moduleType) =>
        $"similarity-{string.Concat(moduleType.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' ? c : '_'))}.png";

    /// <summary>Two panels: σᵢ/σ₁ per module, and the cumulative energy with the 90 % line; one colour per module type.</summary>
    public static void WriteSpectrum(string path, IReadOnlyList<ModuleSpectrum> spectra, int width = 1400, int height = 560)
    {
        ArgumentNullException.ThrowIfNull(spectra);
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        Plot normalised = multiplot.GetPlot(0), energy = multiplot.GetPlot(1);
        var types = spectra.Select(s => ModuleNames.TypeOf(s.Module)).Distinct(StringComparer.Ordinal).ToList();
        var palette = new ScottPlot.Palettes.Category10();
        var labelled = new HashSet<string>(StringComparer.Ordinal);
        foreach (var s in spectra.Where(s => s.SingularValues.Length > 0 && s.SingularValues[0] > 0))
        {
            var type = ModuleNames.TypeOf(s.Module);
            var color = palette.GetColor(types.IndexOf(type)).WithAlpha(0.7);
            var ks = Enumerable.Range(1, s.SingularValues.Length).Select(k => (double)k).ToArray();
            var line = normalised.Add.Scatter(ks, [.. s.SingularValues.Select(v => v / s.SingularValues[0])], color);
            var cumulative = energy.Add.Scatter(ks, s.Energy, color);
            if (labelled.Add(type))
            {
                line.LegendText = type;
                cumulative.LegendText = type;
            }
        }
        energy.Add.HorizontalLine(AdapterSpectrum.EnergyThreshold, 1, Colors.Gray, LinePattern.Dashed);
        int longest = spectra.Count == 0 ? 1 : spectra.Max(s => s.SingularValues.Length);
        foreach (var plot in new[] { normalised, energy })
        {
            plot.Axes.Bottom.SetTicks([.. Ticks(longest).Select(k => (double)k)], [.. Ticks(longest).Select(k => k.ToString(CultureInfo.InvariantCulture))]);
        }
        normalised.Title("Singular values of ΔW = scale·B·A, per module");
        normalised.XLabel("i");
        normalised.YLabel("σᵢ / σ₁");
        normalised.ShowLegend(Alignment.UpperRight);
        energy.Title("Energy held by the top k directions (dashed: 90 %)");
        energy.XLabel("k");
        energy.YLabel("(σ₁² + … + σ_k²) / ‖ΔW‖²_F");
        energy.Axes.SetLimitsY(0, 1.02);
        energy.ShowLegend(Alignment.LowerRight);
        multiplot.SavePng(path, width, height);
    }

    /// <summary>
    /// One PNG per module type into <paramref name="folder"/>, each a grid of heat maps φ(i, j) (one per layer,
    /// i down, j across, 0 dark to 1 bright), like the paper's Figure 3; returns the files written.
    /// </summary>
    public static IReadOnlyList<string> WriteSimilarity(string folder, IReadOnlyList<ModuleSimilarity> similarities, string firstName, string secondName)
    {
        ArgumentNullException.ThrowIfNull(similarities);
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        foreach (var group in similarities.GroupBy(s => ModuleNames.TypeOf(s.Module), StringComparer.Ordinal))
        {
            var members = group.ToList();
            int columns = (int)Math.Ceiling(Math.Sqrt(members.Count)), rows = (members.Count + columns - 1) / columns;
            var multiplot = new Multiplot();
            multiplot.AddPlots(members.Count);
            multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
            for (int p = 0; p < members.Count; p++)
            {
                DrawPhi(multiplot.GetPlot(p), members[p], firstName, secondName);
            }
            var path = Path.Combine(folder, SimilarityFile(group.Key));
            multiplot.SavePng(path, Math.Max(480, 460 * columns), Math.Max(400, 400 * rows));
            written.Add(path);
        }
        return written;
    }

    /// <summary>Bars of ‖ΔW‖_F / ‖W‖_F (or ‖ΔW‖_F without the base) per layer, one colour per module type.</summary>
    public static void WriteSummary(string path, AdapterChangeSummary summary, int width = 1200, int height = 560)
    {
        ArgumentNullException.ThrowIfNull(summary);
        var values = summary.Modules.Select(m => (m.Layer, m.ModuleType, Value: summary.HasBase ? m.RelativeChange ?? 0 : m.DeltaNorm)).ToList();
        var what = summary.HasBase ? "‖ΔW‖_F / ‖W‖_F" : "‖ΔW‖_F (no base given)";
        WriteGroupedBars(path, values, $"Change per layer and module type: {what}", what, width, height);
    }

    /// <summary>Bars of the amplification factor ‖ΔW‖_F / ‖UᵀWV‖_F per layer, one colour per module type (appendix H.4).</summary>
    public static void WriteAmplification(string path, IReadOnlyList<ModuleAmplification> rows, int width = 1200, int height = 560)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var values = rows.Select(a => (ModuleNames.LayerOf(a.Module), ModuleNames.TypeOf(a.Module), a.Amplification ?? 0)).ToList();
        WriteGroupedBars(path, values, "Amplification factor ‖ΔW‖_F / ‖U^T·W·V‖_F (U, V: ΔW's singular directions)", "amplification", width, height);
    }

    private static void DrawPhi(Plot plot, ModuleSimilarity similarity, string firstName, string secondName)
    {
        int r1 = similarity.Phi.Length, r2 = r1 == 0 ? 0 : similarity.Phi[0].Length;
        var cells = new double[r1, r2];
        for (int i = 0; i < r1; i++)
        {
            for (int j = 0; j < r2; j++)
            {
                cells[i, j] = similarity.Phi[i][j];
            }
        }
        // Row 0 of the intensities is drawn at the top of the extent, so i = 1 sits at the top as in the paper.
        var heatmap = plot.Add.Heatmap(cells);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        heatmap.Extent = new CoordinateRect(0.5, r2 + 0.5, 0.5, r1 + 0.5);
        plot.Add.ColorBar(heatmap);
        plot.Axes.Left.SetTicks(
            [.. Ticks(r1).Select(i => (double)(r1 + 1 - i))],
            [.. Ticks(r1).Select(i => i.ToString(CultureInfo.InvariantCulture))]);
        plot.Axes.Bottom.SetTicks([.. Ticks(r2).Select(j => (double)j)], [.. Ticks(r2).Select(j => j.ToString(CultureInfo.InvariantCulture))]);
        plot.Axes.SetLimits(0.5, r2 + 0.5, 0.5, r1 + 0.5);
        plot.Title(similarity.Module);
        plot.YLabel($"i ({firstName})");
        plot.XLabel($"j ({secondName})");
    }

    // Every index up to 16, else about 8 evenly spaced ones (always 1 and the last).
    private static IEnumerable<int> Ticks(int count)
    {
        int step = count <= 16 ? 1 : (int)Math.Ceiling(count / 8.0);
        return Enumerable.Range(1, count).Where(i => i == 1 || i == count || i % step == 0);
    }

    private static void WriteGroupedBars(string path, IReadOnlyList<(int? Layer, string Type, double Value)> values, string title, string yLabel, int width, int height)
    {
        var plot = new Plot();
        var types = values.Select(v => v.Type).Distinct(StringComparer.Ordinal).ToList();
        var layers = values.Select(v => v.Layer ?? -1).Distinct().Order().ToList();
        var palette = new ScottPlot.Palettes.Category10();
        double barWidth = 0.8 / Math.Max(1, types.Count);
        var bars = new List<Bar>();
        foreach (var (layer, type, value) in values)
        {
            double slot = layers.IndexOf(layer ?? -1) - 0.4 + (barWidth * (types.IndexOf(type) + 0.5));
            bars.Add(new Bar { Position = slot, Value = value, FillColor = palette.GetColor(types.IndexOf(type)), Size = barWidth * 0.95 });
        }
        plot.Add.Bars(bars);
        for (int t = 0; t < types.Count; t++)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = types[t], FillColor = palette.GetColor(t) });
        }
        plot.Axes.Bottom.SetTicks([.. layers.Select((_, i) => (double)i)], [.. layers.Select(l => l < 0 ? "other" : l.ToString(CultureInfo.InvariantCulture))]);
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.XLabel("layer");
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, width, height);
    }
}
