using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.MLNet.Persistence;

namespace Microsoft.ML.Lora.Analysis;

/// <summary>
/// Every LoRA factor pair of one adapter, read from its files alone — a PEFT folder (<c>adapter_config.json</c> +
/// <c>adapter_model.safetensors</c>) or a model zip saved by this library — without the base model.
/// Heads and biases saved with the adapter (modules_to_save) are not LoRA updates and are left out.
/// </summary>
public sealed class LoraAdapterFactors
{
    private LoraAdapterFactors(string source, LoraConfig config, IReadOnlyList<LoraModuleFactors> modules, SavedLoraAdapter? saved)
    {
        Source = source;
        Config = config;
        Modules = modules;
        Saved = saved;
    }

    /// <summary>The folder or zip the adapter was read from (full path).</summary>
    public string Source { get; }

    /// <summary>The adapter's LoRA config.</summary>
    public LoraConfig Config { get; }

    /// <summary>The adapted modules, by layer then path.</summary>
    public IReadOnlyList<LoraModuleFactors> Modules { get; }

    /// <summary>The base model a zip records (null for a PEFT folder, which names it only by hub id).</summary>
    public BaseModelReference? RecordedBase => Saved?.Base;

    /// <summary>
    /// DoRA rescales each output row of W + ΔW by a trained magnitude; the analyses look at the LoRA part scale·B·A only.
    /// </summary>
    public bool UsesDora => Config.UseDora;

    internal SavedLoraAdapter? Saved { get; }

    /// <summary>Reads a PEFT adapter folder or a model zip.</summary>
    /// <exception cref="FileNotFoundException">Nothing adapter-like is at the path.</exception>
    /// <exception cref="InvalidDataException">The files hold no LoRA factors or inconsistent ones.</exception>
    /// <exception cref="InvalidAdapterConfigException">adapter_config.json is malformed.</exception>
    public static LoraAdapterFactors Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            return ReadPeftFolder(full);
        }
        if (File.Exists(full))
        {
            return ReadZip(full);
        }
        throw new FileNotFoundException($"Adapter '{full}' does not exist: give a PEFT adapter folder or a model zip.", full);
    }

    private static LoraAdapterFactors ReadPeftFolder(string folder)
    {
        if (!File.Exists(Path.Combine(folder, LoraConfig.FileName)))
        {
            throw new FileNotFoundException($"'{folder}' is not a PEFT adapter folder: it has no {LoraConfig.FileName}.", Path.Combine(folder, LoraConfig.FileName));
        }
        var config = LoraConfig.Load(folder);
        var weights = Path.Combine(folder, PeftAdapterFormat.WeightsFileName);
        if (!File.Exists(weights))
        {
            throw new FileNotFoundException($"Adapter weights '{weights}' do not exist (PEFT's .bin format is not read; save with safe_serialization).", weights);
        }
        using var file = SafetensorsFile.Open(weights);
        return new LoraAdapterFactors(folder, config, Collect(file, config, key => key, weights), saved: null);
    }

    private static LoraAdapterFactors ReadZip(string zip)
    {
        var saved = SavedLoraAdapter.Read(zip);
        using var file = SafetensorsFile.Load(saved.AdapterWeights, $"{zip} ({LoraFineTuneTransformer.AdapterEntry})");
        return new LoraAdapterFactors(zip, saved.Config, Collect(file, saved.Config, key => PeftKeyOf(key, saved.AdapterName), file.FilePath), saved);
    }

    /// <summary>
    /// PEFT's name for one of our in-memory adapter tensor names (<c>{module}.lora_A.{adapter}.weight</c> →
    /// <c>base_model.model.{module}.lora_A.weight</c>), or null for a tensor that is not a LoRA factor.
    /// </summary>
    internal static string? PeftKeyOf(string name, string adapter)
    {
        foreach (var factor in FactorNames)
        {
            var infix = $".{factor}.{adapter}";
            int at = name.LastIndexOf(infix, StringComparison.Ordinal);
            var rest = at < 0 ? null : name[(at + infix.Length)..];
            if (rest is "" or ".weight")
            {
                return $"{PeftStateDict.Prefix}{name[..at]}.{factor}{rest}";
            }
        }
        return null;
    }

    private static readonly string[] FactorNames = ["lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector"];

    private static List<LoraModuleFactors> Collect(SafetensorsFile file, LoraConfig config, Func<string, string?> peftKey, string source)
    {
        var a = new Dictionary<string, (string Key, bool Embedding)>(StringComparer.Ordinal);
        var b = new Dictionary<string, (string Key, bool Embedding)>(StringComparer.Ordinal);
        foreach (var entry in file.Entries)
        {
            if (peftKey(entry.Name) is not { } key || PeftStateDict.Parse(key) is not { } parsed)
            {
                continue;
            }
            switch (parsed.Kind)
            {
                case PeftTensorKind.LoraA or PeftTensorKind.EmbeddingA:
                    a[parsed.Path] = (entry.Name, parsed.Kind == PeftTensorKind.EmbeddingA);
                    break;
                case PeftTensorKind.LoraB or PeftTensorKind.EmbeddingB:
                    b[parsed.Path] = (entry.Name, parsed.Kind == PeftTensorKind.EmbeddingB);
                    break;
            }
        }
        var unpaired = a.Keys.Except(b.Keys).Concat(b.Keys.Except(a.Keys)).Order(StringComparer.Ordinal).ToList();
        if (unpaired.Count > 0)
        {
            throw new InvalidDataException($"{source}: module '{unpaired[0]}' has only one of its two LoRA factors (A and B); the file is incomplete.");
        }
        if (a.Count == 0)
        {
            throw new InvalidDataException($"{source}: the file holds no LoRA factors (lora_A/lora_B tensors).");
        }
        var modules = new List<LoraModuleFactors>();
        foreach (var module in a.Keys.Order(ModuleNames.Order))
        {
            var factorA = Read(file, a[module].Key);
            var factorB = Read(file, b[module].Key);
            if (factorA.Rows != factorB.Columns)
            {
                throw new InvalidDataException($"{source}: module '{module}' has lora_A [{factorA.Rows}, {factorA.Columns}] and lora_B [{factorB.Rows}, {factorB.Columns}], whose ranks differ.");
            }
            double scale = LoraConfig.ScaleFor(factorA.Rows, LoraTargetMatcher.AlphaFor(config, module), config.UseRsLora);
            modules.Add(new LoraModuleFactors(module, factorA, factorB, scale, config.FanInFanOut, a[module].Embedding));
        }
        return modules;
    }

    private static DenseMatrix Read(SafetensorsFile file, string name)
    {
        var entry = file.Entry(name);
        if (entry.Shape.Count != 2)
        {
            throw new InvalidDataException($"{file.FilePath}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}]; a LoRA factor is a matrix.");
        }
        using var tensor = file.ReadTensor(name, TorchSharp.torch.ScalarType.Float64);
        return DenseMatrix.FromTensor(tensor);
    }
}
