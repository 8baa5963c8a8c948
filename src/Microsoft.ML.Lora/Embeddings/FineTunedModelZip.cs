using Microsoft.ML.Lora.MLNet;

namespace Microsoft.ML.Lora.Embeddings;

/// <summary>A model zip loaded through ML.NET, with the LoRA transformer found in its chain; disposing frees the chain.</summary>
internal sealed class FineTunedModelZip : IDisposable
{
    private readonly ITransformer _model;

    private FineTunedModelZip(ITransformer model, LoraFineTuneTransformer lora)
    {
        _model = model;
        Lora = lora;
    }

    public LoraFineTuneTransformer Lora { get; }

    public static FineTunedModelZip Load(string path)
    {
        var model = new MLContext(seed: 0).Model.LoadWithLora(path, out _);
        var lora = Enumerate(model).OfType<LoraFineTuneTransformer>().LastOrDefault();
        if (lora is null)
        {
            foreach (var disposable in Enumerate(model).OfType<IDisposable>())
            {
                disposable.Dispose();
            }
            throw new InvalidDataException($"'{path}' holds no LoRA fine-tuned model (no LoraFineTuneTransformer in its pipeline).");
        }
        return new FineTunedModelZip(model, lora);
    }

    public void Dispose()
    {
        foreach (var disposable in Enumerate(_model).OfType<IDisposable>())
        {
            disposable.Dispose();
        }
    }

    private static IEnumerable<ITransformer> Enumerate(ITransformer model) =>
        model is IEnumerable<ITransformer> chain ? chain.SelectMany(Enumerate) : [model];
}
