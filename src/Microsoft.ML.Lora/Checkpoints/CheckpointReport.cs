using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>One tensor of an inspected checkpoint.</summary>
/// <param name="Name">The tensor's key.</param>
/// <param name="Dtype">The safetensors dtype name.</param>
/// <param name="Shape">The dimensions.</param>
/// <param name="Elements">Number of elements.</param>
/// <param name="Bytes">Bytes of data.</param>
public sealed record TensorSummary(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("dtype")] string Dtype,
    [property: JsonPropertyName("shape")] IReadOnlyList<long> Shape,
    [property: JsonPropertyName("elements")] long Elements,
    [property: JsonPropertyName("bytes")] long Bytes);

/// <summary>How much of a checkpoint is stored in one dtype.</summary>
/// <param name="Dtype">The safetensors dtype name.</param>
/// <param name="Tensors">Number of tensors.</param>
/// <param name="Elements">Number of elements.</param>
/// <param name="Bytes">Bytes of data.</param>
public sealed record DtypeSummary(
    [property: JsonPropertyName("dtype")] string Dtype,
    [property: JsonPropertyName("tensors")] int Tensors,
    [property: JsonPropertyName("elements")] long Elements,
    [property: JsonPropertyName("bytes")] long Bytes);

/// <summary>
/// What a checkpoint holds (the result of <see cref="CheckpointInspector.Inspect"/>), printable for people
/// (<see cref="ToText"/>) and machines (<see cref="ToJson"/>).
/// </summary>
public sealed record CheckpointReport
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The inspected path (full).</summary>
    [JsonPropertyName("path")] public required string Path { get; init; }

    /// <summary>"hf-model", "peft-adapter", "safetensors" or "llama2c".</summary>
    [JsonPropertyName("format")] public required string Format { get; init; }

    /// <summary>The weight files read.</summary>
    [JsonPropertyName("files")] public required IReadOnlyList<string> Files { get; init; }

    /// <summary>HF model_type, when a config says it.</summary>
    [JsonPropertyName("model_type")] public string? ModelType { get; init; }

    /// <summary>The HF class the checkpoint was saved from (first of <c>architectures</c>), when known.</summary>
    [JsonPropertyName("architecture")] public string? Architecture { get; init; }

    /// <summary>Number of stored parameters (elements of all tensors; tied weights are stored, and counted, once).</summary>
    [JsonPropertyName("parameter_count")] public long ParameterCount => Tensors.Sum(t => t.Elements);

    /// <summary>Bytes of tensor data.</summary>
    [JsonPropertyName("total_bytes")] public long TotalBytes => Tensors.Sum(t => t.Bytes);

    /// <summary>Storage per dtype, largest first.</summary>
    [JsonPropertyName("dtypes")]
    public IReadOnlyList<DtypeSummary> Dtypes =>
        [.. Tensors.GroupBy(t => t.Dtype).Select(g => new DtypeSummary(g.Key, g.Count(), g.Sum(t => t.Elements), g.Sum(t => t.Bytes)))
            .OrderByDescending(d => d.Bytes).ThenBy(d => d.Dtype, StringComparer.Ordinal)];

    /// <summary>Format-specific facts (config sizes, adapter rank and targets, safetensors metadata), in display order.</summary>
    [JsonPropertyName("details")] public required IReadOnlyDictionary<string, string> Details { get; init; }

    /// <summary>Every tensor, sorted by name.</summary>
    [JsonPropertyName("tensors")] public required IReadOnlyList<TensorSummary> Tensors { get; init; }

    /// <summary>The report as indented JSON; the tensor list only when <paramref name="includeTensors"/>.</summary>
    public string ToJson(bool includeTensors)
    {
        var node = JsonSerializer.SerializeToNode(this, JsonOptions)!.AsObject();
        if (!includeTensors)
        {
            node.Remove("tensors");
        }
        return node.ToJsonString(JsonOptions);
    }

    /// <summary>The report as aligned text lines; the tensor list only when <paramref name="includeTensors"/>.</summary>
    public string ToText(bool includeTensors)
    {
        var text = new StringBuilder();
        void Line(string label, string value) => text.Append(CultureInfo.InvariantCulture, $"{label + ":",-15} {value}\n");
        Line("Path", Path);
        Line("Format", $"{Format} ({Files.Count} file{(Files.Count == 1 ? "" : "s")})");
        if (ModelType is not null || Architecture is not null)
        {
            Line("Model", string.Join(" ", new[] { ModelType, Architecture is null ? null : $"({Architecture})" }.Where(s => s is not null)));
        }
        Line("Parameters", $"{ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} ({HumanCount(ParameterCount)}), {HumanBytes(TotalBytes)}");
        foreach (var d in Dtypes)
        {
            Line("  " + d.Dtype, $"{d.Tensors} tensors, {d.Elements.ToString("N0", CultureInfo.InvariantCulture)} elements");
        }
        foreach (var (key, value) in Details)
        {
            Line(key, value);
        }
        Line("Tensors", Tensors.Count.ToString(CultureInfo.InvariantCulture));
        if (includeTensors)
        {
            int width = Tensors.Count == 0 ? 0 : Tensors.Max(t => t.Name.Length);
            foreach (var t in Tensors)
            {
                text.Append(CultureInfo.InvariantCulture, $"  {t.Name.PadRight(width)}  {t.Dtype,-4}  [{string.Join(", ", t.Shape)}]\n");
            }
        }
        return text.ToString();
    }

    /// <summary>"135.5M"-style count.</summary>
    public static string HumanCount(long n) => n switch
    {
        >= 1_000_000_000 => (n / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + "B",
        >= 1_000_000 => (n / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1_000 => (n / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + "K",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>"1.5 GiB"-style size.</summary>
    public static string HumanBytes(long n) => n switch
    {
        >= 1L << 30 => (n / (double)(1L << 30)).ToString("0.##", CultureInfo.InvariantCulture) + " GiB",
        >= 1L << 20 => (n / (double)(1L << 20)).ToString("0.##", CultureInfo.InvariantCulture) + " MiB",
        >= 1L << 10 => (n / (double)(1L << 10)).ToString("0.##", CultureInfo.InvariantCulture) + " KiB",
        _ => n.ToString(CultureInfo.InvariantCulture) + " B",
    };
}
