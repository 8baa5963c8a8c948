using Microsoft.ML.Lora.MLNet;

namespace MlLora.Cli.Commands;

/// <summary>
/// A model named on the command line: a Hugging Face folder (the base alone) or a model zip (the base with its
/// fine-tuned adapter active). Disposing frees it.
/// </summary>
internal sealed class ModelSource : IDisposable
{
    private readonly SavedModel? _saved;

    private ModelSource(LoraBaseModel model, SavedModel? saved)
    {
        Model = model;
        _saved = saved;
    }

    /// <summary>The model with its tokenizer (and, for a zip, its adapter on <see cref="LoraBaseModel.Lora"/>).</summary>
    public LoraBaseModel Model { get; }

    /// <summary>The fine-tuned transformer when the source is a zip.</summary>
    public LoraFineTuneTransformer? Transformer => _saved?.Lora;

    public static ModelSource Open(string path)
    {
        ModelPaths.RequireZipOrFolder("--model", path);
        if (Directory.Exists(path))
        {
            return new ModelSource(LoraBaseModel.Load(path), null);
        }
        if (File.Exists(path))
        {
            var saved = SavedModel.Load(path);
            return new ModelSource(saved.Lora.Model, saved);
        }
        throw new FileNotFoundException($"'{path}' is neither a model folder nor a model zip.", path);
    }

    public void Dispose()
    {
        if (_saved is not null)
        {
            _saved.Dispose();
        }
        else
        {
            Model.Dispose();
        }
    }
}
