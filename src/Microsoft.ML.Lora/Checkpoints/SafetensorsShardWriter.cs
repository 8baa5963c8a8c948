using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// Writes a model's weights the way Hugging Face's <c>save_pretrained</c> does: <c>model.safetensors</c> when
/// they fit in one shard, otherwise <c>model-00001-of-0000N.safetensors</c> files plus
/// <c>model.safetensors.index.json</c> mapping each tensor to its shard.
/// </summary>
public static class SafetensorsShardWriter
{
    /// <summary>HF's default shard limit ("5GB" = 5·10⁹ bytes).</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>
    /// Writes the tensors into <paramref name="folder"/>, filling shards in name order and starting a new one when
    /// the next tensor would pass <paramref name="maxShardBytes"/> (a tensor larger than the limit gets a shard of
    /// its own). Weight files left from an earlier save in the other form are removed.
    /// </summary>
    /// <returns>The files written (the shards, then the index if any).</returns>
    public static IReadOnlyList<string> Write(
        string folder,
        IEnumerable<KeyValuePair<string, Tensor>> tensors,
        long maxShardBytes = DefaultMaxShardBytes,
        IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        Directory.CreateDirectory(folder);
        var shards = Partition(tensors, maxShardBytes);
        RemoveStaleWeights(folder);
        var meta = metadata?.ToList();
        if (shards.Count <= 1)
        {
            var single = Path.Combine(folder, SafetensorsCheckpoint.SingleFileName);
            SafetensorsWriter.Write(single, shards.FirstOrDefault() ?? [], meta);
            return [single];
        }
        var written = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long totalSize = 0;
        for (int i = 0; i < shards.Count; i++)
        {
            var name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            var path = Path.Combine(folder, name);
            SafetensorsWriter.Write(path, shards[i], meta);
            written.Add(path);
            foreach (var (tensor, value) in shards[i])
            {
                weightMap[tensor] = name;
                totalSize += ByteSize(value);
            }
        }
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = totalSize },
            ["weight_map"] = new JsonObject(weightMap.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
        };
        var indexPath = Path.Combine(folder, SafetensorsCheckpoint.IndexFileName);
        File.WriteAllText(indexPath, index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        written.Add(indexPath);
        return written;
    }

    private static long ByteSize(Tensor t) => t.numel() * SafetensorsDtype.ElementSize(t.dtype);

    private static List<List<KeyValuePair<string, Tensor>>> Partition(IEnumerable<KeyValuePair<string, Tensor>> tensors, long maxShardBytes)
    {
        var shards = new List<List<KeyValuePair<string, Tensor>>>();
        var current = new List<KeyValuePair<string, Tensor>>();
        long currentBytes = 0;
        foreach (var item in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            long size = ByteSize(item.Value);
            if (current.Count > 0 && currentBytes + size > maxShardBytes)
            {
                shards.Add(current);
                current = [];
                currentBytes = 0;
            }
            current.Add(item);
            currentBytes += size;
        }
        if (current.Count > 0)
        {
            shards.Add(current);
        }
        return shards;
    }

    private static void RemoveStaleWeights(string folder)
    {
        File.Delete(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName));
        File.Delete(Path.Combine(folder, SafetensorsCheckpoint.IndexFileName));
        foreach (var shard in Directory.GetFiles(folder, "model-*-of-*.safetensors"))
        {
            File.Delete(shard);
        }
    }
}
