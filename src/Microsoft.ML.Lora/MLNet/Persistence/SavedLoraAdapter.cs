using System.IO.Compression;
using Microsoft.ML.Lora.Adapters;

namespace Microsoft.ML.Lora.MLNet.Persistence;

/// <summary>
/// The LoRA adapter inside a model zip, read without building or even finding its base model: the manifest's
/// LoRA config, adapter name and base reference, and the raw <c>Adapter.safetensors</c> (our in-memory names,
/// <c>{module}.lora_A.{adapter}.weight</c>). For tools that look at the factors alone (mllora analyze, inspect).
/// </summary>
/// <param name="ZipPath">The zip's full path.</param>
/// <param name="Config">The adapter's LoRA config as saved.</param>
/// <param name="AdapterName">The adapter's name in the saved tensor names.</param>
/// <param name="Base">The recorded base model.</param>
/// <param name="AdapterWeights">The bytes of the adapter's safetensors entry.</param>
/// <param name="EmbeddedBaseWeights">The base weights' safetensors bytes when the base is embedded, else null.</param>
internal sealed record SavedLoraAdapter(
    string ZipPath,
    LoraConfig Config,
    string AdapterName,
    BaseModelReference Base,
    byte[] AdapterWeights,
    byte[]? EmbeddedBaseWeights)
{
    /// <summary>Reads the one LoRA transformer of a model zip.</summary>
    /// <exception cref="FileNotFoundException">The zip does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a zip, holds no LoRA transformer or several, or is incomplete.</exception>
    public static SavedLoraAdapter Read(string zipPath)
    {
        var full = Path.GetFullPath(zipPath);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"Model zip '{full}' does not exist.", full);
        }
        ModelZipGuard.Check(full);
        var folder = TransformerFolder(full);
        using var stream = File.OpenRead(full);
        using var repository = RepositoryReader.Open(stream, new MLContext(), useFileSystem: false);
        using var entry = repository.OpenEntry(folder, ModelLoadContext.ModelStreamName);
        using var ctx = new ModelLoadContext(repository, entry, folder);
        var manifest = LoraFineTuneTransformer.ReadManifest(ctx);
        var adapter = LoraFineTuneTransformer.ReadBinaryEntry(ctx, LoraFineTuneTransformer.AdapterEntry);
        var embedded = manifest.Base.Embedded ? LoraFineTuneTransformer.ReadBinaryEntry(ctx, LoraFineTuneTransformer.BaseWeightsEntry) : null;
        return new SavedLoraAdapter(full, manifest.Lora, manifest.AdapterName, manifest.Base, adapter, embedded);
    }

    // The transformer's folder is the one holding both its model stream and its adapter entry; a pipeline puts
    // it under TransformerChain/Transform_N, a lone transformer at TransformerChain itself.
    private static string TransformerFolder(string zipPath)
    {
        List<string> entries;
        try
        {
            using var archive = ZipFile.OpenRead(zipPath);
            entries = [.. archive.Entries.Select(e => e.FullName.Replace('\\', '/'))];
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{zipPath}' is not a model zip ({e.Message}).", e);
        }
        var names = entries.ToHashSet(StringComparer.Ordinal);
        var suffix = "/" + LoraFineTuneTransformer.AdapterEntry;
        var folders = entries
            .Where(e => e.EndsWith(suffix, StringComparison.Ordinal))
            .Select(e => e[..^suffix.Length])
            .Where(f => names.Contains($"{f}/{ModelLoadContext.ModelStreamName}"))
            .Order(StringComparer.Ordinal)
            .ToList();
        return folders switch
        {
            [var only] => only,
            [] => throw new InvalidDataException($"'{zipPath}' holds no LoRA fine-tuned model (no {LoraFineTuneTransformer.AdapterEntry} entry): was it saved by Microsoft.ML.Lora?"),
            _ => throw new InvalidDataException($"'{zipPath}' holds {folders.Count} LoRA transformers ({string.Join(", ", folders)}); analyse a zip with one."),
        };
    }
}
