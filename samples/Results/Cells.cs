using System.Globalization;

namespace Results;

/// <summary>
/// One training run of the report: data set, base model, method (majority, head-only, lora, full, base, chain), seed and
/// the LoRA settings. Runs that tables share (SST-2 LoRA query+value r4 α 8 is also a Table 5 cell) have one id and run once.
/// </summary>
public sealed record CellSpec(string Dataset, string Model, string Method, int Seed, string Targets = "", int Rank = 0, double Alpha = 0, bool RsLora = false)
{
    public string Id => string.Create(CultureInfo.InvariantCulture,
        $"{Dataset}|{Model}|{Method}|{Targets}|r{Rank}|a{Alpha}|{(RsLora ? "rs" : "std")}|s{Seed}");
}

/// <summary>A Table 5 row: which attention weights are adapted, at which rank (the parameter budget is the same).</summary>
public sealed record Table5Row(string Weights, string Targets, int Rank);

/// <summary>A Table 5 column: α as a multiple of r, with or without rank-stabilised scaling.</summary>
public sealed record Table5Column(string Name, double AlphaPerRank, bool RsLora);

/// <summary>Every cell of every table, in the order they run.</summary>
public static class ReportPlan
{
    public static readonly string[] Sst2Models = ["minilm", "arctic-xs"];
    public static readonly string[] SmsModels = ["minilm", "stories260K"];
    public const string EncoderQueryValue = "query,value";

    public static IReadOnlyList<Table5Row> Table5Rows(HarnessSettings s) => s.FullTable5
        ?
        [
            new("W_q", "query", 8), new("W_k", "key", 8), new("W_v", "value", 8), new("W_o", "attention.output.dense", 8),
            new("W_q, W_k", "query,key", 4), new("W_q, W_v", "query,value", 4),
            new("W_q, W_k, W_v, W_o", "query,key,value,attention.output.dense", 2), new("all linear", "all-linear", 1),
        ]
        : [new("W_q", "query", 8), new("W_q, W_v", "query,value", 4), new("all linear", "all-linear", 1)];

    public static IReadOnlyList<Table5Column> Table5Columns(HarnessSettings s) => s.FullTable5
        ? [new("α = r", 1, false), new("α = 2r", 2, false), new("α = 4r", 4, false), new("rsLoRA, α = 2r", 2, true)]
        : [new("α = 2r", 2, false), new("rsLoRA, α = 2r", 2, true)];

    public static CellSpec Lora(string dataset, string model, string targets, int rank, double alphaPerRank, bool rs, int seed) =>
        new(dataset, model, "lora", seed, targets, rank, alphaPerRank * rank, rs);

    /// <summary>The LoRA targets of a model in the SMS table (the quick start's all-linear for the tiny Llama).</summary>
    public static string SmsTargets(string model) => model == "stories260K" ? "all-linear" : EncoderQueryValue;

    public static IReadOnlyList<CellSpec> Cells(HarnessSettings s)
    {
        var cells = new List<CellSpec>();
        foreach (var model in Sst2Models)
        {
            cells.Add(new("sst2", model, "majority", 0));
            foreach (var seed in s.Seeds)
            {
                cells.Add(new("sst2", model, "head-only", seed));
                cells.AddRange(s.Ranks.Select(r => Lora("sst2", model, EncoderQueryValue, r, 2, false, seed)));
                cells.Add(new("sst2", model, "full", seed));
            }
        }
        foreach (var row in Table5Rows(s))
        {
            cells.AddRange(Table5Columns(s).Select(c => Lora("sst2", "minilm", row.Targets, row.Rank, c.AlphaPerRank, c.RsLora, s.Seeds[0])));
        }
        foreach (var model in SmsModels)
        {
            cells.Add(new("sms", model, "majority", 0));
            cells.Add(new("sms", model, "head-only", s.Seeds[0]));
            cells.Add(Lora("sms", model, SmsTargets(model), 8, 2, false, s.Seeds[0]));
            cells.Add(new("sms", model, "full", s.Seeds[0]));
        }
        cells.Add(new("e2e", "stories260K", "base", s.Seeds[0]));
        cells.Add(Lora("e2e", "stories260K", "all-linear", 8, 2, false, s.Seeds[0]));
        cells.Add(new("e2e", "stories260K", "full", s.Seeds[0]));
        cells.Add(new("e2e", "stories260K", "chain", s.Seeds[0], "all-linear", 8, 16));
        // Run order: the cells the issue's questions rest on first (MiniLM LoRA against full, E2E), so a run stopped early
        // has answered them; the report's order is its own.
        return [.. cells.DistinctBy(c => c.Id).OrderBy(Priority)];
    }

    private static int Priority(CellSpec cell) => (cell.Dataset, cell.Model) switch
    {
        ("sst2", "minilm") when cell.Rank is 0 or 8 && cell.Targets is "" or EncoderQueryValue && !cell.RsLora => 0,
        ("e2e", _) or ("sms", "stories260K") => 1,
        ("sst2", "minilm") when cell.Targets is "" or EncoderQueryValue && !cell.RsLora => 2,
        ("sst2", "arctic-xs") => 3,
        ("sst2", _) => 4,
        _ => 5,
    };
}
