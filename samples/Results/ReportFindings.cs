using System.Globalization;

namespace Results;

/// <summary>
/// "What the figures say": each statement is computed from the records and worded by what they show, so a rerun with
/// other figures cannot keep a claim they no longer support. Differences within about one standard deviation are
/// called ties, since three seeds on 872 sentences cannot separate them.
/// </summary>
public sealed class ReportFindings(HarnessSettings settings, IReadOnlyDictionary<string, RunRecord> byId)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public IEnumerable<string> Lines()
    {
        if (settings.Quick)
        {
            yield return "Quick mode: 48 training rows and one seed per cell — these figures test that the harness runs, they say nothing about the methods.";
        }
        foreach (var model in ReportPlan.Sst2Models)
        {
            foreach (var line in Sst2(model))
            {
                yield return line;
            }
        }
        foreach (var line in Table5())
        {
            yield return line;
        }
        foreach (var line in E2E())
        {
            yield return line;
        }
        yield return "Scale: these are 22 M-parameter encoders fine-tuned on 1,000 SST-2 sentences for two epochs with one fixed learning rate per method, " +
            "and a 260 K-parameter Llama on E2E; the paper's claims are about RoBERTa/DeBERTa/GPT-2/GPT-3 on full training sets with tuned schedules. " +
            "A claim that fails here is not refuted there, and one that holds here is only weak support.";
    }

    private Summary? Accuracy(Func<int, CellSpec> cell) => Summary.Of(ReportTables.OverSeeds(byId, settings, cell).Select(r => r.Accuracy));

    private IEnumerable<string> Sst2(string model)
    {
        var name = ModelFolders.Display(model);
        var full = Accuracy(s => new CellSpec("sst2", model, "full", s));
        var head = Accuracy(s => new CellSpec("sst2", model, "head-only", s));
        var ranks = settings.Ranks.Select(r => (Rank: r, Summary: Accuracy(s => ReportPlan.Lora("sst2", model, ReportPlan.EncoderQueryValue, r, 2, false, s)))).Where(x => x.Summary is not null).ToList();
        if (full is null || ranks.Count == 0)
        {
            yield return $"{name}: the SST-2 cells needed for the LoRA-versus-full comparison have not run.";
            yield break;
        }
        var best = ranks.MaxBy(x => x.Summary!.Mean);
        var cell = byId.GetValueOrDefault(ReportPlan.Lora("sst2", model, ReportPlan.EncoderQueryValue, best.Rank, 2, false, settings.Seeds[0]).Id);
        double share = cell is null ? double.NaN : 100.0 * cell.TrainableParameters / Math.Max(1, cell.TotalParameters);
        double gap = 100 * (best.Summary!.Mean - full.Mean);
        string verdict = gap >= -1
            ? "within the paper's claim (LoRA matches full fine-tuning) at this scale"
            : "so the paper's claim does not hold here: LoRA stays below full fine-tuning";
        yield return string.Create(Inv, $"{name}, SST-2: the best LoRA rank (r {best.Rank}, {share:G2} % of the parameters trainable) reaches {100 * best.Summary.Mean:F1} % against {100 * full.Mean:F1} % for full fine-tuning, {Signed(gap)} points — {verdict}.");
        if (head is not null)
        {
            double overHead = 100 * (best.Summary.Mean - head.Mean);
            yield return string.Create(Inv, $"{name}: training the head alone gives {100 * head.Mean:F1} %, {Signed(-overHead)} points from the best LoRA; ") +
                (overHead > 1 ? "adapting the encoder matters." : overHead >= -1 ? "LoRA adds little over the frozen features here." : "the linear probe beats LoRA here.");
        }
        if (ranks.Count >= 2)
        {
            var smallest = ranks[0];
            var spread = ranks.Max(x => x.Summary!.Mean) - ranks.Min(x => x.Summary!.Mean);
            var noise = ranks.Max(x => x.Summary!.Std);
            yield return string.Create(Inv, $"{name}: accuracy over r ∈ {{{string.Join(", ", ranks.Select(x => x.Rank))}}} spans {100 * spread:F1} points (largest seed standard deviation {100 * noise:F1}); r {smallest.Rank} gives {100 * smallest.Summary!.Mean:F1} %. ") +
                (ranks.Any(x => x.Summary!.Count < 2) ? "With one seed per rank the noise is unknown, so this says nothing about the paper's finding that a tiny rank suffices."
                    : spread <= noise ? "As in the paper, a very small rank suffices: the rank makes no difference beyond seed noise."
                    : ranks[^1].Summary!.Mean - smallest.Summary.Mean > noise ? "Unlike the paper's finding that a tiny rank suffices, larger ranks do better here."
                    : "The ranks differ by more than the seed noise, but not in order of size: no trend in r.");
        }
    }

    private IEnumerable<string> Table5()
    {
        int seed = settings.Seeds[0];
        var column = ReportPlan.Table5Columns(settings).First(c => c is { AlphaPerRank: 2, RsLora: false });
        var rows = ReportPlan.Table5Rows(settings)
            .Select(r => (Row: r, Record: byId.GetValueOrDefault(ReportPlan.Lora("sst2", "minilm", r.Targets, r.Rank, column.AlphaPerRank, column.RsLora, seed).Id)))
            .Where(x => x.Record?.Accuracy is not null).ToList();
        if (rows.Count < 2)
        {
            yield return "Table 5 analogue: not enough cells have run to compare.";
            yield break;
        }
        var best = rows.MaxBy(x => x.Record!.Accuracy);
        var worst = rows.MinBy(x => x.Record!.Accuracy);
        yield return string.Create(Inv, $"Table 5 analogue (MiniLM, α = 2r, one seed): best {best.Row.Weights} at r {best.Row.Rank} ({100 * best.Record!.Accuracy:F1} %), worst {worst.Row.Weights} at r {worst.Row.Rank} ({100 * worst.Record!.Accuracy:F1} %). ") +
            "The paper found spreading the budget over W_q and W_v (or all four) better than a larger rank on one weight; with one seed, differences below about one point are within the noise measured in the SST-2 table.";
        var rsRows = ReportPlan.Table5Rows(settings)
            .Select(r => (Plain: byId.GetValueOrDefault(ReportPlan.Lora("sst2", "minilm", r.Targets, r.Rank, 2, false, seed).Id)?.Accuracy,
                Rs: byId.GetValueOrDefault(ReportPlan.Lora("sst2", "minilm", r.Targets, r.Rank, 2, true, seed).Id)?.Accuracy))
            .Where(x => x.Plain is not null && x.Rs is not null).ToList();
        if (rsRows.Count > 0)
        {
            double mean = rsRows.Average(x => x.Rs!.Value - x.Plain!.Value);
            yield return string.Create(Inv, $"rsLoRA (α/√r) against α/r at α = 2r: {Signed(100 * mean)} points on average over {rsRows.Count} rows (rsLoRA's scale is larger by √r, which matters most at the larger ranks).");
        }
    }

    private IEnumerable<string> E2E()
    {
        int seed = settings.Seeds[0];
        var methods = ReportTables.E2EMethods(settings, seed).Select(m => (m.Label, Record: byId.GetValueOrDefault(m.Cell.Id))).ToList();
        var (baseRun, lora, full, chain) = (methods[0].Record, methods[1].Record, methods[2].Record, methods[3].Record);
        if (baseRun?.TestLoss is null || lora?.TestLoss is null || full?.TestLoss is null)
        {
            yield return "E2E: the base, LoRA and full cells have not all run.";
        }
        else
        {
            yield return string.Create(Inv, $"E2E (stories260K): test loss {baseRun.TestLoss:F3} for the base, {lora.TestLoss:F3} with LoRA ({lora.TrainableParameters:N0} trainable parameters) and {full.TestLoss:F3} with full fine-tuning ({full.TrainableParameters:N0}); BLEU-4 {100 * baseRun.Bleu:F1}, {100 * lora.Bleu:F1} and {100 * full.Bleu:F1}. ") +
                (lora.TestLoss <= full.TestLoss + 0.02 ? "LoRA matches full fine-tuning on this tiny model." : "Full fine-tuning beats LoRA on this tiny model, where the adapter is a large share of a very small network and the paper's low-rank premise (a large, over-parameterised model) does not apply.") +
                " BLEU stays far below the paper's ~70 because a 260 K-parameter story model knows almost no English beyond children's stories, and decoding is greedy.";
        }
        yield return chain?.Error is null && chain?.ValidationLoss is { } chainLoss && lora?.ValidationLoss is { } loraLoss
            ? string.Create(Inv, $"Chain of LoRA ({settings.ChainCycles} cycles): validation loss {chainLoss:F4} against {loraLoss:F4} for one LoRA run of the same steps — {(chainLoss < loraLoss ? "lower, as COLA reports" : "not lower")}.")
            : $"Chain of LoRA: not measured — {chain?.Error ?? "its cell has not run"}";
    }

    private static string Signed(double value) => value.ToString("+0.0;-0.0;0.0", Inv);
}
