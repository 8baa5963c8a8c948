using System.IO.Compression;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>What one fine-tuned model inside an ML.NET zip is (see <see cref="LoraModelZip.Describe"/>).</summary>
/// <param name="Entry">The model's folder inside the zip.</param>
/// <param name="Task">The task it was trained for.</param>
/// <param name="LabelNames">The classes' names in head order, when recorded (see <see cref="LoraFineTuneTransformer.LabelNames"/>).</param>
/// <param name="Labels">Number of classes (multiclass), else 0.</param>
/// <param name="TextColumn">The text column it reads.</param>
/// <param name="Text2Column">The second text column, or null.</param>
/// <param name="LabelColumn">The label column it was trained on.</param>
/// <param name="PromptColumn">The prompt column (causal LM instruction tuning), or null.</param>
/// <param name="ResponseColumn">The response column (causal LM instruction tuning), or null.</param>
/// <param name="MaxSequenceLength">Longest token sequence it reads.</param>
/// <param name="TruncationSide">Which end of a longer text is cut.</param>
/// <param name="Precision">Precision of the frozen base weights.</param>
/// <param name="AdapterName">The adapter's name.</param>
/// <param name="Lora">The LoRA configuration (PEFT's adapter_config).</param>
/// <param name="Base">The base model it refers to (or embeds).</param>
/// <param name="TokenizerFiles">The tokenizer files stored with it.</param>
/// <param name="AdapterTensors">The adapter and head tensors stored with it.</param>
public sealed record LoraModelDescription(
    string Entry, LoraTask Task, IReadOnlyList<string>? LabelNames, int Labels, string TextColumn, string? Text2Column, string LabelColumn,
    string? PromptColumn, string? ResponseColumn, int MaxSequenceLength, TruncationSide TruncationSide, LoraPrecision Precision,
    string AdapterName, LoraConfig Lora, BaseModelReference Base, IReadOnlyList<string> TokenizerFiles, IReadOnlyList<TensorSummary> AdapterTensors);

/// <summary>Reads what a saved model zip holds without loading its base model (what <c>mllora inspect MODEL.zip</c> prints).</summary>
public static class LoraModelZip
{
    private const string ModelStream = "Model.key";

    /// <summary>The fine-tuned models in an ML.NET zip, from their manifests and adapter headers.</summary>
    /// <exception cref="InvalidDataException">The file is not a zip, or holds no LoRA fine-tuned model.</exception>
    public static IReadOnlyList<LoraModelDescription> Describe(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"Model zip '{path}' does not exist.", path);
        }
        ModelZipGuard.Check(full);
        List<string> folders;
        try
        {
            using var archive = ZipFile.OpenRead(full);
            folders = [.. archive.Entries.Select(e => e.FullName).Where(n => n == ModelStream || n.EndsWith("/" + ModelStream, StringComparison.Ordinal))
                .Select(n => n[..^ModelStream.Length].TrimEnd('/')).Order(StringComparer.Ordinal)];
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is not a zip file ({e.Message}).", e);
        }
        if (folders.Count == 0)
        {
            throw new InvalidDataException($"'{path}' is a zip but holds no ML.NET model (no {ModelStream} entry).");
        }
        var env = new MLContext();
        using var stream = File.OpenRead(full);
        using var repository = RepositoryReader.Open(stream, env, useFileSystem: false);
        var models = folders.Select(folder => Read(repository, folder, path)).OfType<LoraModelDescription>().ToList();
        return models.Count > 0
            ? models
            : throw new InvalidDataException($"'{path}' is an ML.NET model without a LoRA fine-tuned transformer (no {LoraFineTuneTransformer.LoaderSignature} in it).");
    }

    private static LoraModelDescription? Read(RepositoryReader repository, string folder, string path)
    {
        var entry = repository.OpenEntryOrNull(folder, ModelStream);
        if (entry is null)
        {
            return null;
        }
        using var ctx = new ModelLoadContext(repository, entry, folder);
        if (ctx.Header.ModelSignature != LoraFineTuneTransformer.ModelSignature)
        {
            return null;
        }
        var manifest = LoraModelManifest.FromJson(ctx.Reader.ReadString(), path);
        byte[]? adapter = null;
        ctx.TryLoadBinaryStream(LoraFineTuneTransformer.AdapterEntry, r =>
        {
            using var buffer = new MemoryStream();
            r.BaseStream.CopyTo(buffer);
            adapter = buffer.ToArray();
        });
        var tensors = new List<TensorSummary>();
        if (adapter is not null)
        {
            using var file = SafetensorsFile.Load(adapter, $"{path}:{folder}/{LoraFineTuneTransformer.AdapterEntry}");
            tensors.AddRange(file.Entries.Select(e => new TensorSummary(e.Name, e.Dtype, e.Shape, e.ElementCount, e.ByteLength)));
        }
        var names = manifest.Task switch
        {
            LoraTask.BinaryClassification => manifest.LabelNames,
            LoraTask.MulticlassClassification => manifest.LabelKeyValues,
            _ => null,
        };
        return new LoraModelDescription(folder, manifest.Task, names, manifest.Labels, manifest.TextColumn, manifest.Text2Column, manifest.LabelColumn,
            manifest.PromptColumn, manifest.ResponseColumn, manifest.MaxSequenceLength, manifest.TruncationSide, manifest.Precision,
            manifest.AdapterName, manifest.Lora, manifest.Base, manifest.TokenizerFiles, tensors);
    }
}
