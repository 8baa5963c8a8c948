namespace Microsoft.ML.Lora.Tokenization.Chat;

/// <summary>One message of a conversation: its role ("system", "user", "assistant", or any role a template knows) and text.</summary>
/// <param name="Role">The speaker, as chat templates name it.</param>
/// <param name="Content">The message text.</param>
public sealed record ConversationMessage(string Role, string Content)
{
    /// <summary>The role of instructions that frame the conversation.</summary>
    public const string SystemRole = "system";

    /// <summary>The role of the person talking to the model.</summary>
    public const string UserRole = "user";

    /// <summary>The role of the model's replies (the tokens fine-tuning puts the loss on).</summary>
    public const string AssistantRole = "assistant";
}

/// <summary>
/// Turns a conversation into the text a model family was trained on. <see cref="JinjaChatTemplate"/> renders the
/// Jinja templates Hugging Face models ship; implement this interface for a format of your own.
/// </summary>
public interface IChatTemplate
{
    /// <summary>
    /// The conversation as model input text, special tokens written out (as transformers' apply_chat_template
    /// renders it). With <paramref name="addGenerationPrompt"/>, the text ends where the assistant's next reply starts.
    /// </summary>
    string Render(IReadOnlyList<ConversationMessage> messages, bool addGenerationPrompt);
}
