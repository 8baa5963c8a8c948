using System.Text.Json;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// The weights of a model: one safetensors file, or several shards listed by a Hugging Face
/// <c>model.safetensors.index.json</c> (<c>weight_map</c>: tensor name → shard file). Tensors are read by name
/// regardless of the shard they live in.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    /// <summary>HF's single-file weights name.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>HF's shard index name.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private static readonly string[] PickleExtensions = [".bin", ".pt", ".pth", ".ckpt", ".pkl"];

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _fileOf;

    private SafetensorsCheckpoint(string path, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> fileOf)
    {
        SourcePath = path;
        _files = files;
        _fileOf = fileOf;
        Entries = [.. fileOf.Select(kv => kv.Value.Entry(kv.Key)).OrderBy(e => e.Name, StringComparer.Ordinal)];
    }

    /// <summary>The file (single file or index) the checkpoint was opened from.</summary>
    public string SourcePath { get; }

    /// <summary>The safetensors files (one, or the shards).</summary>
    public IReadOnlyList<SafetensorsFile> Files => _files;

    /// <summary>Every tensor, sorted by name.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    /// <summary>Total bytes of tensor data.</summary>
    public long TotalBytes => Entries.Sum(e => e.ByteLength);

    /// <summary>
    /// Opens a checkpoint from a <c>.safetensors</c> file, an index file, or a folder (which must hold
    /// <c>model.safetensors.index.json</c>, <c>model.safetensors</c>, or exactly one <c>*.safetensors</c> file).
    /// </summary>
    /// <exception cref="UnsupportedCheckpointFormatException">The folder holds only pickle weights.</exception>
    /// <exception cref="SafetensorsFormatException">A file or the index is malformed, or a shard is missing.</exception>
    /// <exception cref="FileNotFoundException">There are no weights at the path.</exception>
    public static SafetensorsCheckpoint Open(string path)
    {
        var fullPath = Path.GetFullPath(path);
        if (File.Exists(fullPath))
        {
            if (IsPickleFile(fullPath))
            {
                throw new UnsupportedCheckpointFormatException(fullPath, [Path.GetFileName(fullPath)]);
            }
            return fullPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? OpenIndex(fullPath) : OpenSingle(fullPath);
        }
        if (!Directory.Exists(fullPath))
        {
            throw new FileNotFoundException($"Checkpoint '{fullPath}' does not exist.", fullPath);
        }
        var index = Path.Combine(fullPath, IndexFileName);
        if (File.Exists(index))
        {
            return OpenIndex(index);
        }
        var single = Path.Combine(fullPath, SingleFileName);
        if (File.Exists(single))
        {
            return OpenSingle(single);
        }
        var candidates = Directory.GetFiles(fullPath, "*.safetensors").Order(StringComparer.Ordinal).ToArray();
        if (candidates.Length == 1)
        {
            return OpenSingle(candidates[0]);
        }
        if (candidates.Length > 1)
        {
            throw new SafetensorsFormatException(fullPath,
                $"the folder holds several safetensors files ({string.Join(", ", candidates.Select(Path.GetFileName))}) but no {IndexFileName} saying which tensors each holds");
        }
        var pickles = Directory.GetFiles(fullPath)
            .Where(IsPickleFile)
            .Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray();
        if (pickles.Length > 0)
        {
            throw new UnsupportedCheckpointFormatException(fullPath, pickles);
        }
        throw new FileNotFoundException($"'{fullPath}' holds no model weights ({SingleFileName} or {IndexFileName}).", single);
    }

    /// <summary>Whether a file name has a PyTorch pickle extension (<c>.bin</c>, <c>.pt</c>, <c>.pth</c>, <c>.ckpt</c>, <c>.pkl</c>).</summary>
    public static bool IsPickleFile(string path) => PickleExtensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether a tensor of this name exists.</summary>
    public bool Contains(string name) => _fileOf.ContainsKey(name);

    /// <summary>The header entry of a tensor.</summary>
    public SafetensorsEntry Entry(string name) => FileOf(name).Entry(name);

    /// <summary>Reads a tensor (see <see cref="SafetensorsFile.ReadTensor"/>).</summary>
    public Tensor ReadTensor(string name, ScalarType? dtype = null, Device? device = null) => FileOf(name).ReadTensor(name, dtype, device);

    /// <summary>Copies a tensor into an existing tensor of the same shape (see <see cref="SafetensorsFile.ReadInto"/>).</summary>
    public void ReadInto(string name, Tensor destination) => FileOf(name).ReadInto(name, destination);

    /// <summary>Reads every tensor; the caller owns them.</summary>
    public Dictionary<string, Tensor> ReadAll(ScalarType? dtype = null, Device? device = null) =>
        TensorMemory.ReadEach(Entries.Select(e => e.Name), name => ReadTensor(name, dtype, device));

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var file in _files)
        {
            file.Dispose();
        }
    }

    private SafetensorsFile FileOf(string name) =>
        _fileOf.TryGetValue(name, out var file)
            ? file
            : throw new KeyNotFoundException($"{SourcePath}: no tensor named '{name}'.");

    private static SafetensorsCheckpoint OpenSingle(string file)
    {
        var opened = SafetensorsFile.Open(file);
        return new SafetensorsCheckpoint(file, [opened], opened.Entries.ToDictionary(e => e.Name, _ => opened, StringComparer.Ordinal));
    }

    private static SafetensorsCheckpoint OpenIndex(string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        var folder = Path.GetDirectoryName(indexPath)!;
        var files = new List<SafetensorsFile>();
        var fileOf = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var shard in weightMap.GroupBy(kv => kv.Value, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var shardPath = Path.Combine(folder, shard.Key);
                if (!File.Exists(shardPath))
                {
                    throw new SafetensorsFormatException(indexPath,
                        $"shard '{shard.Key}' (holding {shard.Count()} tensors, e.g. '{shard.First().Key}') is missing from {folder}");
                }
                var file = SafetensorsFile.Open(shardPath);
                files.Add(file);
                foreach (var (tensor, _) in shard)
                {
                    if (!file.Contains(tensor))
                    {
                        throw new SafetensorsFormatException(indexPath, $"the index places tensor '{tensor}' in shard '{shard.Key}', which does not hold it");
                    }
                    fileOf[tensor] = file;
                }
            }
            return new SafetensorsCheckpoint(indexPath, files, fileOf);
        }
        catch
        {
            files.ForEach(f => f.Dispose());
            throw;
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        var document = SafeJson.ParseFile(indexPath, problem => new SafetensorsFormatException(indexPath, "the shard index is " + problem));
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new SafetensorsFormatException(indexPath, "the shard index has no weight_map object");
            }
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in map.EnumerateObject())
            {
                var shard = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()! : "";
                // A shard must be a plain file name beside the index: no folders, so the index cannot point elsewhere.
                if (shard.Length == 0 || Path.GetFileName(shard) != shard || shard is "." or ".." || shard.Contains('\\'))
                {
                    throw new SafetensorsFormatException(indexPath, $"tensor '{item.Name}' is mapped to '{item.Value.GetRawText()}', which is not a shard file name in the index's folder");
                }
                result[item.Name] = shard;
            }
            return result;
        }
    }
}
