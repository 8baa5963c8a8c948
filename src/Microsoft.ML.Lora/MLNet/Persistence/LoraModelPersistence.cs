using Microsoft.ML;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Runtime;

// mlContext.Model.Load finds the loader by this signature once the assembly is registered
// (mlContext.ComponentCatalog.RegisterAssembly(typeof(LoraFineTuneTransformer).Assembly)).
[assembly: LoadableClass(typeof(LoraFineTuneTransformer), null, typeof(SignatureLoadModel),
    "LoRA Fine-Tune Transformer", LoraFineTuneTransformer.LoaderSignature)]

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// ML.NET persistence of <see cref="LoraFineTuneTransformer"/> — with the sentence-embedding transform's
/// (Embeddings/SentenceEmbeddingTransformer.cs), the only code that uses ML.NET's internal model-saving API
/// (compiled against a publicized Microsoft.ML.Core, see build/MlNetInternals.targets, and allowed at run time by
/// IgnoresAccessChecksTo). Entries written under the transformer's folder in the zip:
/// the model stream (a JSON <see cref="LoraModelManifest"/>), <c>Adapter.safetensors</c> (trainable LoRA and
/// head weights, float32, our in-memory names), <c>Tokenizer.&lt;file&gt;</c>, and with an embedded base
/// <c>Base.config.json</c> + <c>Base.model.safetensors</c>.
/// </summary>
public sealed partial class LoraFineTuneTransformer : ICanSaveModel
{
    /// <summary>The ML.NET loader signature (at most 24 characters).</summary>
    public const string LoaderSignature = "LoraFineTuneTransformer";

    internal const string AdapterEntry = "Adapter.safetensors", TokenizerPrefix = "Tokenizer.",
        BaseConfigEntry = "Base.config.json", BaseWeightsEntry = "Base.model.safetensors";

    /// <summary>The signature in the header of this transformer's model stream.</summary>
    internal static ulong ModelSignature => GetVersionInfo().ModelSignature;

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "LORAFTXF",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderAssemblyName: typeof(LoraFineTuneTransformer).Assembly.FullName,
        loaderSignature: LoaderSignature);

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        // A base without tokenizer files (token-id work only) saves none; loading then reads the base folder's, if any.
        IReadOnlyDictionary<string, byte[]> tokenizerFiles = _base.HasTokenizer ? _base.Tokenizer.Files : new Dictionary<string, byte[]>();
        var manifest = Manifest with { TokenizerFiles = [.. tokenizerFiles.Keys.Order(StringComparer.Ordinal)] };
        ctx.Writer.Write(manifest.ToJson());
        var adapter = AdapterWeights.Trained(_base, Manifest);
        ctx.SaveBinaryStream(AdapterEntry, w => w.Write(SafetensorsWriter.ToBytes(adapter)));
        for (int i = 0; i < MergedCycles.Count; i++)
        {
            var cycle = MergedCycles[i];
            ctx.SaveBinaryStream(ChainOfLora.EntryName(i + 1), w => w.Write(cycle));
        }
        foreach (var (name, bytes) in tokenizerFiles)
        {
            ctx.SaveBinaryStream(TokenizerPrefix + name, w => w.Write(bytes));
        }
        if (manifest.Base.Embedded)
        {
            ctx.SaveBinaryStream(BaseConfigEntry, w => w.Write(BaseModelStore.ConfigJson(_base.Model)));
            ctx.SaveBinaryStream(BaseWeightsEntry, w => SafetensorsWriter.Write(w.BaseStream, AdapterWeights.Base(_base)));
        }
    }

    /// <summary>Called by ML.NET's loader (<c>mlContext.Model.Load</c>).</summary>
    private static LoraFineTuneTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        var manifest = ReadManifest(ctx);
        byte[] ReadEntry(string name) => ReadBinaryEntry(ctx, name);
        var tokenizerFiles = manifest.TokenizerFiles.ToDictionary(f => f, f => ReadEntry(TokenizerPrefix + f));
        var adapterBytes = ReadEntry(AdapterEntry);
        var cycles = ReadMergedCycles(manifest, ReadEntry);
        if (manifest.Base.Embedded)
        {
            var embedded = BaseModelStore.CreateEmbedded(ReadEntry(BaseConfigEntry), tokenizerFiles, manifest);
            try
            {
                AdapterSetup.Rebuild(embedded, manifest);
                using (var weights = SafetensorsFile.Load(ReadEntry(BaseWeightsEntry), BaseWeightsEntry))
                {
                    AdapterWeights.Load(embedded.Model, weights);
                }
                // An embedded base was saved with the chain's merged cycles in it: only the live adapter goes on top.
                LoadAdapter(embedded, manifest, manifest.AdapterName, adapterBytes);
            }
            catch
            {
                embedded.Dispose();
                throw;
            }
            return new LoraFineTuneTransformer(env, manifest, embedded, ownsModel: true, encoder: null, training: null) { MergedCycles = cycles };
        }
        if (manifest.Mode != LoraFineTuneMode.Lora || cycles.Count > 0)
        {
            // A head-only model's head is its base's own, and a chain's cycles are merged into its base: neither base is shared.
            return OnOwnBase(env, manifest, tokenizerFiles, adapterBytes, cycles);
        }
        // A referenced base is shared by every loaded zip over it; this zip's adapter gets a name free on it.
        var shared = BaseModelStore.SharedFromReference(manifest.Base, tokenizerFiles);
        try
        {
            lock (shared.Gate)
            {
                var named = manifest with { AdapterName = AdapterSetup.FreshAdapterName(shared) };
                if (!AdapterSetup.HeadFits(shared, named))
                {
                    // Another task's head already sits on the shared base: give this model a base of its own.
                    SharedBaseCache.Release(shared);
                    return OnOwnBase(env, manifest, tokenizerFiles, adapterBytes, []);
                }
                AdapterSetup.Rebuild(shared, named);
                LoadAdapter(shared, named, manifest.AdapterName, adapterBytes);
                return new LoraFineTuneTransformer(env, named, shared, ownsModel: true, encoder: null, training: null);
            }
        }
        catch
        {
            SharedBaseCache.Release(shared);
            throw;
        }
    }

    /// <summary>The manifest at the start of the transformer's model stream (checks the version first).</summary>
    internal static LoraModelManifest ReadManifest(ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        return LoraModelManifest.FromJson(ctx.Reader.ReadString(), "model zip");
    }

    /// <summary>A binary entry of the transformer's folder, or a typed error when the zip lacks it.</summary>
    internal static byte[] ReadBinaryEntry(ModelLoadContext ctx, string name) =>
        TryReadBinaryEntry(ctx, name)
        ?? throw new InvalidDataException($"The model zip has no '{name}' entry for the LoRA transformer: the file is incomplete or was not written by Microsoft.ML.Lora.");

    /// <summary>A binary entry of the transformer's folder, or null when the zip lacks it.</summary>
    internal static byte[]? TryReadBinaryEntry(ModelLoadContext ctx, string name)
    {
        byte[]? content = null;
        bool found = ctx.TryLoadBinaryStream(name, r =>
        {
            using var buffer = new MemoryStream();
            r.BaseStream.CopyTo(buffer);
            content = buffer.ToArray();
        });
        return found ? content : null;
    }

    /// <summary>Loads the referenced base for this model alone and puts the saved tensors on it.</summary>
    private static LoraFineTuneTransformer OnOwnBase(IHostEnvironment env, LoraModelManifest manifest, Dictionary<string, byte[]> tokenizerFiles,
        byte[] adapterBytes, IReadOnlyList<byte[]> mergedCycles)
    {
        var own = BaseModelStore.FromReference(manifest.Base, tokenizerFiles);
        try
        {
            AdapterSetup.Rebuild(own, manifest);
            ChainOfLora.Replay(own, manifest, mergedCycles);
            LoadAdapter(own, manifest, manifest.AdapterName, adapterBytes);
        }
        catch
        {
            own.Dispose();
            throw;
        }
        return new LoraFineTuneTransformer(env, manifest, own, ownsModel: true, encoder: null, training: null) { MergedCycles = mergedCycles };
    }

    /// <summary>The adapter tensors of a chain's merged cycles (none for a plain model, and for zips older than chains).</summary>
    private static IReadOnlyList<byte[]> ReadMergedCycles(LoraModelManifest manifest, Func<string, byte[]> readEntry)
    {
        if (manifest.ChainCycles < 1 || (manifest.ChainCycles > 1 && manifest.Mode != LoraFineTuneMode.Lora))
        {
            throw new InvalidDataException($"model zip: the manifest's ChainCycles {manifest.ChainCycles} is invalid for Mode {manifest.Mode} (a chain has at least 1 cycle of LoRA).");
        }
        return [.. Enumerable.Range(1, manifest.ChainCycles - 1).Select(i => readEntry(ChainOfLora.EntryName(i)))];
    }

    /// <summary>Fills the adapter's tensors, renaming the saved adapter name to the one it has on this base.</summary>
    private static void LoadAdapter(LoraBaseModel baseModel, LoraModelManifest manifest, string savedName, byte[] bytes)
    {
        using var adapter = SafetensorsFile.Load(bytes, AdapterEntry);
        AdapterWeights.Load(baseModel.Model, adapter, savedName, manifest.AdapterName);
        AdapterSetup.ApplyPrecision(baseModel, manifest);
    }
}
