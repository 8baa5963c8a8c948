using System.Globalization;
using System.Text;

namespace Microsoft.ML.Lora.Analysis;

/// <summary>The analyses as aligned text tables for a console, one row per module (or group).</summary>
public static class AnalysisTables
{
    /// <summary>σ₁, σ_r, the top direction's share of the energy and both effective ranks.</summary>
    public static string Spectrum(IEnumerable<ModuleSpectrum> spectra) => Format(
        ["module", "r", "sigma_1", "sigma_r", "energy_1", "eff_rank_entropy", "eff_rank_90%"],
        spectra.Select(s => new[]
        {
            s.Module, Int(s.Rank), Number(s.SingularValues.FirstOrDefault()), Number(s.SingularValues.LastOrDefault()),
            Number(s.Energy.FirstOrDefault()), Number(s.EffectiveRankEntropy), Int(s.EffectiveRankEnergy90),
        }));

    /// <summary>
    /// φ at the corners that tell the story — φ(1,1), φ(1,r₂), φ(r₁,r₂) — each beside what two random subspaces of
    /// the same dimensions would give, max(i, j)/n, with n the dimension of the space the bases live in.
    /// </summary>
    public static string Similarity(IEnumerable<ModuleSimilarity> similarities) => Format(
        ["module", "r1", "r2", "phi(1,1)", "random", "phi(1,r2)", "random", "phi(r1,r2)", "random"],
        similarities.Select(s =>
        {
            int r1 = s.Phi.Length, r2 = s.Phi[0].Length;
            return new[]
            {
                s.Module, Int(r1), Int(r2), Number(s.Phi[0][0]), Number(s.RandomBaseline(1, 1)), Number(s.Phi[0][r2 - 1]), Number(s.RandomBaseline(1, r2)),
                Number(s.Phi[r1 - 1][r2 - 1]), Number(s.RandomBaseline(r1, r2)),
            };
        }));

    /// <summary>The LoRA paper's Table 7, one row per module: ‖UᵀWV‖_F for U, V of ΔW, W and random; ‖W‖_F; ‖ΔW‖_F; the factor.</summary>
    public static string Amplification(IEnumerable<ModuleAmplification> rows) => Format(
        ["module", "r", "|U'WV| dW", "|U'WV| W", "|U'WV| random", "|W|_F", "|dW|_F", "amplification"],
        rows.Select(a => new[]
        {
            a.Module, Int(a.Rank), Number(a.ProjectionOnDeltaSubspace), Number(a.ProjectionOnWeightSubspace), Number(a.ProjectionOnRandomSubspace),
            Number(a.WeightNorm), Number(a.DeltaNorm), a.Amplification is { } f ? Number(f) : "-",
        }));

    /// <summary>Mean change per module type (largest first), then per layer.</summary>
    public static string Summary(AdapterChangeSummary summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        string[] Row(ChangeGroup g) => [g.Name, Int(g.Modules), Number(g.MeanDeltaNorm), g.MeanRelativeChange is { } c ? Number(c) : "-"];
        return Format(["module type", "modules", "mean |dW|_F", "mean |dW|/|W|"], summary.ByModuleType.Select(Row))
            + Environment.NewLine
            + Format(["layer", "modules", "mean |dW|_F", "mean |dW|/|W|"], summary.ByLayer.Select(Row));
    }

    /// <summary>Columns aligned under their headers: text left-aligned in the first column, numbers right-aligned after it.</summary>
    public static string Format(IReadOnlyList<string> headers, IEnumerable<string[]> rows)
    {
        ArgumentNullException.ThrowIfNull(headers);
        var cells = rows.ToList();
        var widths = headers.Select((h, i) => cells.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        string Line(IReadOnlyList<string> row) =>
            string.Join("  ", row.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))).TrimEnd();
        var text = new StringBuilder();
        text.AppendLine(Line(headers));
        foreach (var row in cells)
        {
            text.AppendLine(Line(row));
        }
        return text.ToString();
    }

    private static string Number(double value) => value.ToString(Math.Abs(value) is >= 1e-3 and < 1e5 or 0 ? "0.####" : "0.###e+0", CultureInfo.InvariantCulture);

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);
}
