using Microsoft.Extensions.AI;
using Microsoft.ML.Lora.MLNet;

namespace Microsoft.ML.Lora.Chat;

/// <summary>Fine-tuned and base models as <see cref="IChatClient"/>s.</summary>
public static class ChatClientExtensions
{
    /// <summary>A chat client over a fine-tuned causal LM (the transformer stays yours to dispose).</summary>
    /// <param name="transformer">The model, e.g. loaded with <c>mlContext.Model.LoadWithLora</c>.</param>
    /// <param name="chatTemplate">A built-in template name or Jinja source overriding the model's own, or null.</param>
    public static LoraChatClient AsChatClient(this LoraFineTuneTransformer transformer, string? chatTemplate = null) =>
        new(LoraChatModel.FromTransformer(transformer, chatTemplate));

    /// <summary>A chat client over a base model alone (it stays yours to dispose).</summary>
    public static LoraChatClient AsChatClient(this LoraBaseModel baseModel, string? chatTemplate = null) =>
        new(LoraChatModel.FromBaseModel(baseModel, chatTemplate));
}
