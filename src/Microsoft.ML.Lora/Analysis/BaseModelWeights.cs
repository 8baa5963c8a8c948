using System.Text.Json;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Analysis;

/// <summary>
/// The frozen base weights W of the modules an adapter adapts, read by name from a Hugging Face folder's
/// safetensors (or a zip's embedded base) and turned to float64 [out, in] — ΔW's orientation — whatever the
/// checkpoint stores: GPT-2's Conv1D and embeddings keep [in, out].
/// </summary>
public sealed class BaseModelWeights : IDisposable
{
    private readonly IDisposable _owner;
    private readonly Func<string, bool> _contains;
    private readonly Func<string, IReadOnlyList<long>> _shape;
    private readonly Func<string, Tensor> _read;

    private BaseModelWeights(string source, string? modelType, IDisposable owner, Func<string, bool> contains, Func<string, IReadOnlyList<long>> shape, Func<string, Tensor> read)
    {
        Source = source;
        ModelType = modelType;
        _owner = owner;
        _contains = contains;
        _shape = shape;
        _read = read;
    }

    /// <summary>Where the weights come from.</summary>
    public string Source { get; }

    /// <summary>HF model_type, when known (GPT-2 says how its square Conv1D weights are stored).</summary>
    public string? ModelType { get; }

    /// <summary>Opens a Hugging Face model folder (config.json + safetensors, single or sharded).</summary>
    public static BaseModelWeights OpenFolder(string folder)
    {
        var checkpoint = SafetensorsCheckpoint.Open(folder);
        return new BaseModelWeights(checkpoint.SourcePath, ReadModelType(folder), checkpoint, checkpoint.Contains, n => checkpoint.Entry(n).Shape,
            n => checkpoint.ReadTensor(n, ScalarType.Float64));
    }

    /// <summary>
    /// The base of <paramref name="adapter"/>: <paramref name="folder"/> when given, else a zip's embedded base or
    /// its recorded base when <see cref="BaseModelResolver"/> finds it.
    /// </summary>
    /// <exception cref="BaseModelRequiredException">No folder was given and the adapter's files do not lead to its base.</exception>
    public static BaseModelWeights Locate(LoraAdapterFactors adapter, string? folder)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        if (folder is not null)
        {
            return OpenFolder(folder);
        }
        if (adapter.Saved is not { } saved)
        {
            throw new BaseModelRequiredException(adapter.Source, "a PEFT adapter folder does not contain or locate its base model");
        }
        if (saved.EmbeddedBaseWeights is { } bytes)
        {
            var file = SafetensorsFile.Load(bytes, $"{saved.ZipPath} (embedded base)");
            return new BaseModelWeights(file.FilePath, saved.Base.ModelType, file, file.Contains, n => file.Entry(n).Shape, n => file.ReadTensor(n, ScalarType.Float64));
        }
        try
        {
            return OpenFolder(BaseModelResolver.Resolve(saved.Base));
        }
        catch (Exception e) when (e is IOException or BaseModelMismatchException)
        {
            throw new BaseModelRequiredException(adapter.Source, $"its recorded base is not usable ({e.Message})");
        }
    }

    /// <summary>W of a module as float64 [out, in].</summary>
    public DenseMatrix WeightOf(LoraModuleFactors module)
    {
        using var scope = NewDisposeScope();
        return DenseMatrix.FromTensor(WeightTensor(module));
    }

    /// <summary>W of a module as a float64 [out, in] tensor in the caller's dispose scope.</summary>
    /// <exception cref="AdapterMismatchException">The base has no such weight, or one of another shape.</exception>
    internal Tensor WeightTensor(LoraModuleFactors module)
    {
        var name = CheckpointNameOf(module.Module);
        var shape = _shape(name);
        long rows = module.OutFeatures, columns = module.InFeatures;
        bool asOutIn = shape.Count == 2 && shape[0] == rows && shape[1] == columns;
        bool asInOut = shape.Count == 2 && shape[0] == columns && shape[1] == rows;
        if (!asOutIn && !asInOut)
        {
            throw new AdapterMismatchException(Source, [$"'{name}' is [{string.Join(", ", shape)}] but the adapter's ΔW for '{module.Module}' is [{rows}, {columns}]: the adapter was trained on another base"]);
        }
        // A square weight fits both ways: the adapter's fan_in_fan_out, the embedding layout or GPT-2's Conv1D decide.
        bool transposed = asOutIn && asInOut ? module.FanInFanOut || module.IsEmbedding || ModelType == "gpt2" : asInOut;
        var weight = _read(name);
        return transposed ? weight.t().contiguous() : weight;
    }

    /// <inheritdoc />
    public void Dispose() => _owner.Dispose();

    // HF base classes (GPT2Model, BertModel) save their weights without the prefix a head class adds ("transformer.").
    private string CheckpointNameOf(string module)
    {
        var name = module + ".weight";
        if (_contains(name))
        {
            return name;
        }
        int dot = module.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0 && _contains(module[(dot + 1)..] + ".weight"))
        {
            return module[(dot + 1)..] + ".weight";
        }
        throw new AdapterMismatchException(Source, [$"the base has no weight '{name}' for the adapted module '{module}'"]);
    }

    private static string? ReadModelType(string folder)
    {
        var config = Path.Combine(Directory.Exists(folder) ? folder : Path.GetDirectoryName(Path.GetFullPath(folder))!, HfConfigFile.FileName);
        if (!File.Exists(config))
        {
            return null;
        }
        using var document = SafeJson.ParseFile(config, problem => new InvalidModelConfigException(config, "the file is " + problem));
        return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()
            : null;
    }
}

/// <summary>An analysis that compares ΔW with W was asked for without a way to reach W.</summary>
public sealed class BaseModelRequiredException(string adapterSource, string reason)
    : Exception($"{adapterSource}: comparing ΔW with the base weights W needs the base model, and {reason}.")
{
    /// <summary>The adapter the base was needed for.</summary>
    public string AdapterSource { get; } = adapterSource;
}
