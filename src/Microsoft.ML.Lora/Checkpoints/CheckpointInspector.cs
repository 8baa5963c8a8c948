using System.Globalization;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Llama;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// Describes what a checkpoint holds without loading its weights: an HF model folder, a PEFT adapter folder,
/// a safetensors file or shard index, or a llama2.c <c>.bin</c>. Only headers are read, so it is fast on
/// multi-GB checkpoints and as strict as loading (the same validation and typed exceptions).
/// </summary>
public static class CheckpointInspector
{
    /// <summary>Inspects a path.</summary>
    /// <exception cref="FileNotFoundException">Nothing is at the path.</exception>
    /// <exception cref="CheckpointFormatException">A file is malformed.</exception>
    /// <exception cref="UnsupportedCheckpointFormatException">The path holds only pickle weights.</exception>
    public static CheckpointReport Inspect(string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            if (File.Exists(Path.Combine(full, LoraConfig.FileName)))
            {
                return InspectAdapter(full);
            }
            return File.Exists(Path.Combine(full, HfConfigFile.FileName)) ? InspectModel(full) : InspectSafetensors(full, "safetensors");
        }
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"'{full}' does not exist.", full);
        }
        if (Path.GetFileName(full) == HfConfigFile.FileName)
        {
            return InspectModel(Path.GetDirectoryName(full)!);
        }
        if (full.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) && !LooksLikePickle(full))
        {
            return InspectLlama2c(full);
        }
        if (SafetensorsCheckpoint.IsPickleFile(full))
        {
            throw new UnsupportedCheckpointFormatException(full, [Path.GetFileName(full)]);
        }
        return InspectSafetensors(full, "safetensors");
    }

    private static CheckpointReport InspectModel(string folder)
    {
        var config = HfConfigFile.Read(folder);
        var details = ConfigDetails(config);
        return InspectSafetensors(folder, "hf-model", config.ModelType, ArchitectureOf(config), details);
    }

    private static CheckpointReport InspectAdapter(string folder)
    {
        var adapter = LoraConfig.Load(folder);
        var details = new Dictionary<string, string>
        {
            ["PEFT type"] = adapter.PeftType,
            ["Base model"] = adapter.BaseModelNameOrPath ?? "(not recorded)",
            ["Task"] = adapter.TaskType ?? "(none)",
            ["Rank"] = adapter.Rank.ToString(CultureInfo.InvariantCulture),
            ["Alpha"] = adapter.Alpha.ToString(CultureInfo.InvariantCulture),
            ["Targets"] = adapter.TargetModulesRegex ?? string.Join(", ", adapter.TargetModules ?? []),
        };
        if (adapter.ModulesToSave is { Count: > 0 } saved)
        {
            details["Also saved"] = string.Join(", ", saved);
        }
        return InspectSafetensors(folder, "peft-adapter", details: details);
    }

    private static CheckpointReport InspectSafetensors(string path, string format, string? modelType = null, string? architecture = null,
        Dictionary<string, string>? details = null)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(path);
        details ??= [];
        foreach (var (key, value) in checkpoint.Files[0].Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            details[$"Metadata {key}"] = value;
        }
        return new CheckpointReport
        {
            Path = path,
            Format = format,
            Files = [.. checkpoint.Files.Select(f => f.FilePath)],
            ModelType = modelType,
            Architecture = architecture,
            Details = details,
            Tensors = [.. checkpoint.Entries.Select(e => new TensorSummary(e.Name, e.Dtype, e.Shape, e.ElementCount, e.ByteLength))],
        };
    }

    private static CheckpointReport InspectLlama2c(string file)
    {
        var config = Llama2cImporter.ReadConfig(file);
        return new CheckpointReport
        {
            Path = file,
            Format = "llama2c",
            Files = [file],
            ModelType = config.ModelType,
            Architecture = "LlamaForCausalLM",
            Details = ConfigDetails(config),
            Tensors = [.. HfLlamaTensors(config).Select(t => new TensorSummary(t.Name, "F32", t.Shape, t.Shape.Aggregate(1L, (a, b) => a * b), 4 * t.Shape.Aggregate(1L, (a, b) => a * b)))],
        };
    }

    /// <summary>The HF-named tensors a llama2.c checkpoint converts to (float32), in name order.</summary>
    private static IEnumerable<(string Name, long[] Shape)> HfLlamaTensors(LlamaConfig c)
    {
        long d = c.HiddenSize, q = c.NumAttentionHeads * c.HeadDimension, kv = c.KeyValueHeads * c.HeadDimension, i = c.IntermediateSize;
        var tensors = new List<(string, long[])> { ("model.embed_tokens.weight", [c.VocabSize, d]), ("model.norm.weight", [d]) };
        if (!c.TieWordEmbeddings)
        {
            tensors.Add(("lm_head.weight", [c.VocabSize, d]));
        }
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
        {
            var p = $"model.layers.{layer}.";
            tensors.AddRange([
                (p + "input_layernorm.weight", [d]), (p + "post_attention_layernorm.weight", [d]),
                (p + "self_attn.q_proj.weight", [q, d]), (p + "self_attn.k_proj.weight", [kv, d]),
                (p + "self_attn.v_proj.weight", [kv, d]), (p + "self_attn.o_proj.weight", [d, q]),
                (p + "mlp.gate_proj.weight", [i, d]), (p + "mlp.up_proj.weight", [i, d]), (p + "mlp.down_proj.weight", [d, i]),
            ]);
        }
        return tensors.OrderBy(t => t.Item1, StringComparer.Ordinal);
    }

    private static Dictionary<string, string> ConfigDetails(ModelConfig config)
    {
        var details = new Dictionary<string, string>
        {
            ["Vocabulary"] = config.VocabularySize.ToString(CultureInfo.InvariantCulture),
            ["Width"] = config.ModelWidth.ToString(CultureInfo.InvariantCulture),
            ["Layers"] = config.LayerCount.ToString(CultureInfo.InvariantCulture),
            ["Max positions"] = config.MaxPositions.ToString(CultureInfo.InvariantCulture),
        };
        if (config is LlamaConfig llama)
        {
            details["Heads"] = $"{llama.NumAttentionHeads} query, {llama.KeyValueHeads} key/value, head dim {llama.HeadDimension}";
            details["Tied head"] = llama.TieWordEmbeddings ? "yes" : "no";
        }
        if (config.TorchDtype is not null)
        {
            details["torch_dtype"] = config.TorchDtype;
        }
        return details;
    }

    private static string? ArchitectureOf(ModelConfig config) =>
        config.ExtraFields?.TryGetValue("architectures", out var a) == true && a.ValueKind == System.Text.Json.JsonValueKind.Array && a.GetArrayLength() > 0
            ? a[0].GetString()
            : null;

    // PyTorch's .bin is a zip archive (torch.save since 1.6) or a raw pickle (protocol byte 0x80).
    private static bool LooksLikePickle(string file)
    {
        Span<byte> magic = stackalloc byte[2];
        using var stream = File.OpenRead(file);
        int read = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        return read == 2 && ((magic[0] == (byte)'P' && magic[1] == (byte)'K') || magic[0] == 0x80);
    }
}
