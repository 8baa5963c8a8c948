using System.Text.Json;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.MLNet.Persistence;

/// <summary>Rebuilds a saved model's base: from the zip (embedded) or from the referenced folder.</summary>
internal static class BaseModelStore
{
    public static byte[] ConfigJson(PretrainedModel model) =>
        JsonSerializer.SerializeToUtf8Bytes(model.Config, model.Config.GetType(), new JsonSerializerOptions { WriteIndented = true });

    /// <summary>The embedded base's architecture (weights are loaded after the adapter structure exists).</summary>
    public static LoraBaseModel CreateEmbedded(byte[] configJson, IReadOnlyDictionary<string, byte[]> tokenizerFiles, LoraModelManifest manifest)
    {
        var configType = ModelRegistry.ConfigTypeFor(manifest.Base.ModelType, "model zip");
        var config = (ModelConfig?)JsonSerializer.Deserialize(configJson, configType)
            ?? throw new InvalidDataException("The model zip's embedded base config is empty.");
        var model = ModelRegistry.Create(config, "model zip");
        try
        {
            return LoraBaseModel.FromLoaded(model, tokenizerFiles, folder: null, manifest.Base.Fingerprint);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The referenced base, shared with other loaded zips of the same base (see <see cref="SharedBaseCache"/>).</summary>
    public static LoraBaseModel SharedFromReference(BaseModelReference reference, IReadOnlyDictionary<string, byte[]> tokenizerFiles) =>
        SharedBaseCache.Acquire(reference.Fingerprint, () => FromReference(reference, tokenizerFiles));

    public static LoraBaseModel FromReference(BaseModelReference reference, IReadOnlyDictionary<string, byte[]> tokenizerFiles)
    {
        var folder = BaseModelResolver.Resolve(reference);
        var model = PretrainedModelLoader.Load(folder);
        try
        {
            return LoraBaseModel.FromLoaded(model, tokenizerFiles, folder, reference.Fingerprint);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
