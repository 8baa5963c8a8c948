using System.Globalization;
using System.Text;

namespace Results;

/// <summary>The report's tables, one method or setting per row; a cell without a record prints "missing".</summary>
public sealed class ReportTables(HarnessSettings settings, IReadOnlyDictionary<string, RunRecord> byId, StringBuilder text)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private const string Missing = "missing";

    public void WriteAll()
    {
        WriteSst2();
        WriteTable5();
        WriteSms();
        WriteE2E();
    }

    /// <summary>The records of a cell over every seed (the seedless majority cell once).</summary>
    public static List<RunRecord> OverSeeds(IReadOnlyDictionary<string, RunRecord> byId, HarnessSettings settings, Func<int, CellSpec> cell) =>
        [.. settings.Seeds.Select(cell).Append(cell(0)).DistinctBy(c => c.Id)
            .Select(c => byId.TryGetValue(c.Id, out var r) && r.Error is null ? r : null).OfType<RunRecord>()];

    public static IEnumerable<(string Label, Func<int, CellSpec> Cell)> Sst2Methods(HarnessSettings settings, string model)
    {
        yield return ("majority class", _ => new CellSpec("sst2", model, "majority", 0));
        yield return ("head only", s => new CellSpec("sst2", model, "head-only", s));
        foreach (var r in settings.Ranks)
        {
            yield return ($"LoRA r = {r} (query, value; α = {2 * r})", s => ReportPlan.Lora("sst2", model, ReportPlan.EncoderQueryValue, r, 2, false, s));
        }
        yield return ("full fine-tuning", s => new CellSpec("sst2", model, "full", s));
    }

    private void WriteSst2()
    {
        var train = settings.Sst2TrainRows;
        text.AppendLine(string.Create(Inv, $"## SST-2 (train {train:N0} / dev {(settings.Sst2DevRows is { } d ? d.ToString("N0", Inv) : "872")})"));
        text.AppendLine();
        text.AppendLine($"Dev accuracy, mean ± sample standard deviation over seeds {string.Join(", ", settings.Seeds)}. Plot: [sst2-rank.png](sst2-rank.png).");
        text.AppendLine();
        foreach (var model in ReportPlan.Sst2Models)
        {
            text.AppendLine($"### {ModelFolders.Display(model)}");
            text.AppendLine();
            text.AppendLine("| method | dev accuracy (%) | trainable parameters (% of all) | peak RSS (MiB) | training time (s, wall / CPU) |");
            text.AppendLine("| --- | --- | --- | --- | --- |");
            foreach (var (label, cell) in Sst2Methods(settings, model))
            {
                text.AppendLine($"| {label} | {Row(OverSeeds(byId, settings, cell))} |");
            }
            text.AppendLine();
        }
    }

    private void WriteTable5()
    {
        var seed = settings.Seeds[0];
        text.AppendLine("## Which weights to adapt at a fixed budget (the LoRA paper's Table 5, on SST-2 with MiniLM)");
        text.AppendLine();
        text.AppendLine($"Dev accuracy (%), seed {seed}. The first seven rows adapt the attention projections at the same parameter budget " +
            "(8 · 2 · 384 per layer: r 8 on one weight, r 4 on two, r 2 on four), as the paper's Table 5; all-linear r 1 adapts every linear layer. " +
            "rsLoRA scales by α/√r instead of α/r. Plot: [table5.png](table5.png).");
        text.AppendLine();
        var columns = ReportPlan.Table5Columns(settings);
        text.AppendLine($"| weights | r | trainable parameters | {string.Join(" | ", columns.Select(c => c.Name))} |");
        text.AppendLine($"| --- | --- | --- | {string.Join(" | ", columns.Select(_ => "---"))} |");
        foreach (var row in ReportPlan.Table5Rows(settings))
        {
            var cells = columns.Select(c => byId.GetValueOrDefault(ReportPlan.Lora("sst2", "minilm", row.Targets, row.Rank, c.AlphaPerRank, c.RsLora, seed).Id)).ToList();
            var parameters = cells.FirstOrDefault(r => r?.Error is null && r?.TrainableParameters > 0)?.TrainableParameters;
            text.AppendLine($"| {row.Weights} | {row.Rank} | {(parameters is { } p ? p.ToString("N0", Inv) : Missing)} | " +
                $"{string.Join(" | ", cells.Select(r => r?.Accuracy is { } a ? (100 * a).ToString("F1", Inv) : Missing))} |");
        }
        text.AppendLine();
    }

    private void WriteSms()
    {
        var seed = settings.Seeds[0];
        text.AppendLine(string.Create(Inv, $"## SMS spam (the quick start's 80/20 split; {settings.SmsTrainRows:N0} training messages, {(settings.SmsTestRows is { } t ? t.ToString("N0", Inv) : "1,115")} test)"));
        text.AppendLine();
        text.AppendLine($"Test accuracy, seed {seed}. LoRA r 8, α 16: query and value on MiniLM, all linear layers on stories260K (as the quick start).");
        text.AppendLine();
        text.AppendLine("| model | method | test accuracy (%) | trainable parameters (% of all) | peak RSS (MiB) | training time (s, wall / CPU) |");
        text.AppendLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var model in ReportPlan.SmsModels)
        {
            foreach (var (label, cell) in SmsMethods(model, seed))
            {
                text.AppendLine($"| {ModelFolders.Display(model)} | {label} | {Row(byId.TryGetValue(cell.Id, out var r) && r.Error is null ? [r] : [])} |");
            }
        }
        text.AppendLine();
    }

    public static IEnumerable<(string Label, CellSpec Cell)> SmsMethods(string model, int seed) =>
    [
        ("majority class", new CellSpec("sms", model, "majority", 0)),
        ("head only", new CellSpec("sms", model, "head-only", seed)),
        ("LoRA r = 8", ReportPlan.Lora("sms", model, ReportPlan.SmsTargets(model), 8, 2, false, seed)),
        ("full fine-tuning", new CellSpec("sms", model, "full", seed)),
    ];

    public static IEnumerable<(string Label, CellSpec Cell)> E2EMethods(HarnessSettings settings, int seed) =>
    [
        ("base (no fine-tuning)", new CellSpec("e2e", "stories260K", "base", seed)),
        ("LoRA r = 8, all linear, α = 16", ReportPlan.Lora("e2e", "stories260K", "all-linear", 8, 2, false, seed)),
        ("full fine-tuning", new CellSpec("e2e", "stories260K", "full", seed)),
        ($"Chain of LoRA ({settings.ChainCycles} cycles, same total steps)", new CellSpec("e2e", "stories260K", "chain", seed, "all-linear", 8, 16)),
    ];

    private void WriteE2E()
    {
        var seed = settings.Seeds[0];
        text.AppendLine("## E2E NLG with stories260K");
        text.AppendLine();
        text.AppendLine("Trained on `valid.txt` less 10 % of its meaning representations (held out: the validation loss), evaluated on `test.txt`: " +
            "token-weighted loss and perplexity of the references given the meaning representation, and corpus BLEU-4 (×100) of one greedy output per " +
            $"meaning representation against all of its references, with the E2E challenge's tokenisation ({nameof(Microsoft.ML.Lora.Evaluation.CorpusBleu)}). Seed {seed}.");
        text.AppendLine();
        text.AppendLine("| method | validation loss | test loss | test perplexity | BLEU-4 | trainable parameters | steps | training time (s, wall / CPU) |");
        text.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        var samples = new List<string>();
        foreach (var (label, cell) in E2EMethods(settings, seed))
        {
            if (!byId.TryGetValue(cell.Id, out var r) || r.Error is not null)
            {
                text.AppendLine($"| {label} | {(r?.Error is { } e ? $"not available: {e}" : Missing)} | | | | | | |");
                continue;
            }
            text.AppendLine(string.Create(Inv, $"| {label} | {r.ValidationLoss:F4} | {r.TestLoss:F4} | {r.Perplexity:F2} | {100 * r.Bleu:F2} | {r.TrainableParameters:N0} | {r.Steps:N0} | {r.WallSeconds:F0} / {r.CpuSeconds:F0} |"));
            samples.AddRange((r.Samples ?? []).Select(s => $"{label}: {s}"));
        }
        text.AppendLine();
        if (samples.Count > 0)
        {
            text.AppendLine("Outputs for the first test meaning representations:");
            text.AppendLine();
            foreach (var s in samples)
            {
                text.AppendLine($"- {s.Replace("|", "\\|", StringComparison.Ordinal)}");
            }
            text.AppendLine();
        }
    }

    /// <summary>accuracy | trainable (%) | RSS | time, over a setting's records.</summary>
    private static string Row(IReadOnlyList<RunRecord> runs)
    {
        if (runs.Count == 0)
        {
            return $"{Missing} | | |";
        }
        var accuracy = Summary.Of(runs.Select(r => r.Accuracy))!;
        var first = runs[0];
        if (first.Cell.Method == "majority")
        {
            return $"{accuracy.Format(100)} | 0 | – | – ";
        }
        var share = 100.0 * first.TrainableParameters / Math.Max(1, first.TotalParameters);
        return string.Create(Inv, $"{accuracy.Format(100)} | {first.TrainableParameters:N0} ({share:G3} %) | {runs.Average(r => r.PeakRssBytes) / (1024.0 * 1024):F0} | {runs.Average(r => r.WallSeconds):F0} / {runs.Average(r => r.CpuSeconds):F0}");
    }
}
