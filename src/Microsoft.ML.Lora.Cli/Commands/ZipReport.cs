using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Lora.Analysis;
using Microsoft.ML.Lora.MLNet;

namespace MlLora.Cli.Commands;

/// <summary>What <c>mllora inspect MODEL.zip</c> prints: each fine-tuned model's task, labels, columns, LoRA config, base and tensors.</summary>
internal static class ZipReport
{
    public const string Format = "mllora-model-zip";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string ToJson(string path, IReadOnlyList<LoraModelDescription> models, IReadOnlyList<ModuleTypeRank> ranks)
    {
        var report = new JsonObject
        {
            ["path"] = Path.GetFullPath(path),
            ["format"] = Format,
            ["models"] = new JsonArray([.. models.Select(Model)]),
            ["rank_used"] = new JsonObject(ranks.Select(r => KeyValuePair.Create(r.ModuleType, (JsonNode?)new JsonObject
            {
                ["r"] = r.Rank,
                ["modules"] = r.Modules,
                ["effective_rank_entropy"] = r.MeanEffectiveRankEntropy,
                ["energy90_min"] = r.MinEnergy90,
                ["energy90_max"] = r.MaxEnergy90,
            }))),
        };
        return report.ToJsonString(Indented);
    }

    private static JsonNode Model(LoraModelDescription m) => new JsonObject
    {
        ["entry"] = m.Entry,
        ["task"] = CommonOptions.TaskName(m.Task),
        ["labels"] = m.LabelNames is null ? null : new JsonArray([.. m.LabelNames.Select(n => (JsonNode?)n)]),
        ["text_column"] = m.TextColumn,
        ["text2_column"] = m.Text2Column,
        ["label_column"] = m.LabelColumn,
        ["prompt_column"] = m.PromptColumn,
        ["response_column"] = m.ResponseColumn,
        ["max_sequence_length"] = m.MaxSequenceLength,
        ["truncation_side"] = m.TruncationSide.ToString().ToLowerInvariant(),
        ["precision"] = m.Precision.ToString(),
        ["adapter_name"] = m.AdapterName,
        ["lora"] = JsonNode.Parse(m.Lora.ToJson()),
        ["base_model"] = new JsonObject
        {
            ["path"] = m.Base.Path,
            ["model_type"] = m.Base.ModelType,
            ["fingerprint"] = m.Base.Fingerprint,
            ["embedded"] = m.Base.Embedded,
        },
        ["tokenizer_files"] = new JsonArray([.. m.TokenizerFiles.Select(f => (JsonNode?)f)]),
        ["adapter_tensors"] = new JsonArray([.. m.AdapterTensors.Select(t => (JsonNode?)new JsonObject
        {
            ["name"] = t.Name,
            ["dtype"] = t.Dtype,
            ["shape"] = new JsonArray([.. t.Shape.Select(d => (JsonNode?)d)]),
            ["elements"] = t.Elements,
            ["bytes"] = t.Bytes,
        })]),
    };

    public static string ToText(string path, IReadOnlyList<LoraModelDescription> models, IReadOnlyList<ModuleTypeRank> ranks)
    {
        var text = new StringBuilder();
        void Line(string key, string value) => text.Append(CultureInfo.InvariantCulture, $"{key + ":",-16}{value}\n");
        Line("Path", Path.GetFullPath(path));
        Line("Format", "ML.NET model zip with a LoRA fine-tuned model");
        foreach (var m in models)
        {
            var lora = m.Lora;
            text.Append('\n');
            Line("Model", m.Entry.Length == 0 ? "(root)" : m.Entry);
            Line("Task", CommonOptions.TaskName(m.Task) + (m.Labels > 0 ? $" ({m.Labels} classes)" : ""));
            Line("Labels", m.LabelNames is null ? "(not recorded)" : string.Join(", ", m.LabelNames));
            Line("Columns", string.Join(", ", new[] { ("text", m.TextColumn), ("text2", m.Text2Column), ("label", m.LabelColumn), ("prompt", m.PromptColumn), ("response", m.ResponseColumn) }
                .Where(c => c.Item2 is not null).Select(c => $"{c.Item1} {c.Item2}")));
            Line("Max length", $"{m.MaxSequenceLength} tokens (cut on the {m.TruncationSide.ToString().ToLowerInvariant()})");
            Line("Precision", m.Precision.ToString());
            Line("LoRA", string.Create(CultureInfo.InvariantCulture,
                $"r={lora.Rank} alpha={lora.Alpha} dropout={lora.Dropout} rsLoRA={(lora.UseRsLora ? "on" : "off")} DoRA={(lora.UseDora ? "on" : "off")} task_type={lora.TaskType}"));
            Line("Targets", lora.TargetModulesRegex ?? string.Join(", ", lora.TargetModules ?? []));
            if (lora.ModulesToSave is { Count: > 0 } saved)
            {
                Line("Also saved", string.Join(", ", saved));
            }
            Line("Adapter", m.AdapterName);
            Line("Base model", $"{m.Base.Path ?? "(in memory)"} ({m.Base.ModelType}){(m.Base.Embedded ? ", embedded in the zip" : "")}");
            Line("Fingerprint", m.Base.Fingerprint);
            Line("Tokenizer", m.TokenizerFiles.Count == 0 ? "(none: the base folder's)" : string.Join(", ", m.TokenizerFiles));
            Line("Tensors", string.Create(CultureInfo.InvariantCulture, $"{m.AdapterTensors.Count} ({m.AdapterTensors.Sum(t => t.Elements):N0} parameters)"));
            foreach (var t in m.AdapterTensors)
            {
                text.Append(CultureInfo.InvariantCulture, $"  {t.Name}  {t.Dtype}  [{string.Join(", ", t.Shape)}]\n");
            }
        }
        if (ranks.Count > 0)
        {
            text.Append('\n');
            foreach (var type in ranks)
            {
                Line(InspectAdapterRanks.Key(type), InspectAdapterRanks.Describe(type));
            }
        }
        return text.ToString();
    }
}
