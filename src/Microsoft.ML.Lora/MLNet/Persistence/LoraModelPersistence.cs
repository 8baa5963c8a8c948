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
/// ML.NET persistence of <see cref="LoraFineTuneTransformer"/> — the only code that uses ML.NET's internal
/// model-saving API (compiled against a publicized Microsoft.ML.Core, see build/MlNetInternals.targets, and
/// allowed at run time by IgnoresAccessChecksTo). Entries written under the transformer's folder in the zip:
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
        var manifest = Manifest with { TokenizerFiles = [.. _base.Tokenizer.Files.Keys.Order(StringComparer.Ordinal)] };
        ctx.Writer.Write(manifest.ToJson());
        var adapter = AdapterWeights.Of(_base, Manifest.AdapterName);
        ctx.SaveBinaryStream(AdapterEntry, w => w.Write(SafetensorsWriter.ToBytes(adapter)));
        foreach (var (name, bytes) in _base.Tokenizer.Files)
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
        ctx.CheckAtModel(GetVersionInfo());
        var manifest = LoraModelManifest.FromJson(ctx.Reader.ReadString(), "model zip");
        byte[] ReadEntry(string name)
        {
            byte[]? content = null;
            if (!ctx.TryLoadBinaryStream(name, r =>
                {
                    using var buffer = new MemoryStream();
                    r.BaseStream.CopyTo(buffer);
                    content = buffer.ToArray();
                }) || content is null)
            {
                throw new InvalidDataException($"The model zip has no '{name}' entry for the LoRA transformer: the file is incomplete or was not written by Microsoft.ML.Lora.");
            }
            return content;
        }
        var tokenizerFiles = manifest.TokenizerFiles.ToDictionary(f => f, f => ReadEntry(TokenizerPrefix + f));
        LoraBaseModel baseModel = manifest.Base.Embedded
            ? BaseModelStore.CreateEmbedded(ReadEntry(BaseConfigEntry), tokenizerFiles, manifest)
            : BaseModelStore.FromReference(manifest.Base, tokenizerFiles);
        try
        {
            AdapterSetup.Rebuild(baseModel, manifest);
            if (manifest.Base.Embedded)
            {
                using var weights = SafetensorsFile.Load(ReadEntry(BaseWeightsEntry), BaseWeightsEntry);
                AdapterWeights.Load(baseModel.Model, weights);
            }
            using var adapter = SafetensorsFile.Load(ReadEntry(AdapterEntry), AdapterEntry);
            AdapterWeights.Load(baseModel.Model, adapter);
        }
        catch
        {
            baseModel.Dispose();
            throw;
        }
        return new LoraFineTuneTransformer(env, manifest, baseModel, ownsModel: true, AdapterSetup.Encoder(baseModel.Tokenizer, manifest), training: null);
    }
}
