using System.Text.Json;
using System.Text.Json.Serialization;

namespace Results;

/// <summary>What one cell measured (null where a metric does not apply); Error is set when the cell could not run.</summary>
public sealed record RunRecord
{
    public required CellSpec Cell { get; init; }
    public double? Accuracy { get; init; }
    public double? ValidationLoss { get; init; }
    public double? TestLoss { get; init; }
    public double? Perplexity { get; init; }
    public double? Bleu { get; init; }
    public long TrainableParameters { get; init; }
    public long TotalParameters { get; init; }
    public long PeakRssBytes { get; init; }
    public double WallSeconds { get; init; }
    public double CpuSeconds { get; init; }
    public long Steps { get; init; }
    /// <summary>Chain of LoRA: each cycle's last training loss and its steps, in order (null for other methods).</summary>
    public IReadOnlyList<string>? ChainCycles { get; init; }
    public IReadOnlyList<string>? Samples { get; init; }
    public string? Error { get; init; }

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static RunRecord FromJson(string json) =>
        JsonSerializer.Deserialize<RunRecord>(json, Json) ?? throw new InvalidDataException($"Not a run record: {json}");
}
