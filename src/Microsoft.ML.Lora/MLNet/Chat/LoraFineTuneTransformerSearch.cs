namespace Microsoft.ML.Lora.MLNet;

public sealed partial class LoraFineTuneTransformer
{
    /// <summary>The LoRA fine-tuned transformer inside a loaded pipeline (the last one of a chain), or null.</summary>
    public static LoraFineTuneTransformer? FindIn(ITransformer model) => model switch
    {
        LoraFineTuneTransformer lora => lora,
        IEnumerable<ITransformer> chain => chain.Select(FindIn).LastOrDefault(x => x is not null),
        _ => null,
    };
}
