using Microsoft.ML.Lora.Plotting;

namespace Results;

/// <summary>The report's PNGs: SST-2 accuracy against r (with head-only and full as flat lines), the Table 5 bars, E2E BLEU.</summary>
public static class ReportPlots
{
    public static void Write(HarnessSettings settings, IReadOnlyDictionary<string, RunRecord> byId, string folder)
    {
        var series = new List<PlotSeries>();
        var ticks = settings.Ranks.Select(r => (Math.Log2(r), r.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        foreach (var model in ReportPlan.Sst2Models)
        {
            var name = model == "minilm" ? "MiniLM" : "Arctic-xs";
            var lora = settings.Ranks
                .Select(r => (X: Math.Log2(r), S: Summary.Of(ReportTables.OverSeeds(byId, settings, s => ReportPlan.Lora("sst2", model, ReportPlan.EncoderQueryValue, r, 2, false, s)).Select(x => x.Accuracy))))
                .Where(p => p.S is not null).Select(p => (p.X, 100 * p.S!.Mean, 100 * p.S.Std)).ToList();
            if (lora.Count > 0)
            {
                series.Add(new PlotSeries($"{name} LoRA", lora));
            }
            foreach (var (method, label) in new[] { ("full", "full"), ("head-only", "head only") })
            {
                var summary = Summary.Of(ReportTables.OverSeeds(byId, settings, s => new CellSpec("sst2", model, method, s)).Select(x => x.Accuracy));
                if (summary is not null && ticks.Count > 0)
                {
                    series.Add(new PlotSeries($"{name} {label}", [(ticks[0].Item1, 100 * summary.Mean, 0), (ticks[^1].Item1, 100 * summary.Mean, 0)]));
                }
            }
        }
        if (series.Count > 0)
        {
            ComparisonPlots.WriteLines(Path.Combine(folder, "sst2-rank.png"), "SST-2 dev accuracy against LoRA rank (query, value; α = 2r)", "r (log scale)", "dev accuracy (%)", series, ticks);
        }
        var seed = settings.Seeds[0];
        var bars = ReportPlan.Table5Rows(settings)
            .Select(r => (r, Rec: byId.GetValueOrDefault(ReportPlan.Lora("sst2", "minilm", r.Targets, r.Rank, 2, false, seed).Id)))
            .Where(x => x.Rec?.Accuracy is not null).Select(x => new PlotBar($"{x.r.Weights} r{x.r.Rank}", 100 * x.Rec!.Accuracy!.Value, 0)).ToList();
        if (bars.Count > 0)
        {
            ComparisonPlots.WriteBars(Path.Combine(folder, "table5.png"), "Which weights to adapt (MiniLM, SST-2, α = 2r)", "dev accuracy (%)", bars);
        }
        var e2e = ReportTables.E2EMethods(settings, seed)
            .Select(m => (m.Label, Rec: byId.GetValueOrDefault(m.Cell.Id))).Where(x => x.Rec?.Bleu is not null)
            .Select(x => new PlotBar(x.Label.Split(' ')[0], 100 * x.Rec!.Bleu!.Value, 0)).ToList();
        if (e2e.Count > 0)
        {
            ComparisonPlots.WriteBars(Path.Combine(folder, "e2e-bleu.png"), "E2E test BLEU-4 (stories260K)", "BLEU-4", e2e);
        }
    }
}
