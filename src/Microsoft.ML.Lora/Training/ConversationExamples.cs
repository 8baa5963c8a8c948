using Microsoft.ML.Lora.Tokenization.Chat;

namespace Microsoft.ML.Lora.Training;

/// <summary>
/// Conversational (messages-column) rows: each row is a conversation in JSON, rendered with the model's chat template;
/// the loss covers the assistant turns only (see <see cref="ConversationEncoder"/>).
/// </summary>
public sealed partial class ExampleEncoder
{
    private ConversationEncoder? _conversations;

    /// <summary>Whether causal-LM rows are conversations (a messages column) rather than text or prompt/response.</summary>
    public bool Conversational { get; init; }

    /// <summary>The chat template: a built-in name, Jinja source, or null for the model's own (<see cref="ChatTemplates.Resolve"/>).</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>The conversation encoder (its template is parsed on first use, so other tasks never parse one).</summary>
    public ConversationEncoder Conversations => _conversations ??= new ConversationEncoder(ChatTemplates.Resolve(ChatTemplate, tokenizer), tokenizer);

    /// <summary>A causal-LM training row: a conversation, a prompt/response pair, or plain text.</summary>
    /// <param name="text">The text, the prompt, or the conversation's JSON.</param>
    /// <param name="response">The response of an instruction row, else null.</param>
    /// <param name="source">Names the row in errors (column and row number).</param>
    public TokenizedExample EncodeLanguageModelRow(string text, string? response, string source) =>
        Conversational ? EncodeConversation(ConversationJson.Parse(text, source))
        : response is not null ? EncodeInstruction(text, response)
        : EncodeText(text);

    /// <summary>A conversation's tokens; loss on its assistant turns (content and the token that closes each turn).</summary>
    public TokenizedExample EncodeConversation(IReadOnlyList<ConversationMessage> messages)
    {
        var encoded = Conversations.Encode(messages);
        if (encoded.Ids.Length <= MaxLength)
        {
            return new TokenizedExample(encoded.Ids, 0, LossMask: encoded.AssistantMask);
        }
        int skip = truncateLeft ? encoded.Ids.Length - MaxLength : 0;
        return new TokenizedExample(encoded.Ids[skip..(skip + MaxLength)], 0, LossMask: encoded.AssistantMask[skip..(skip + MaxLength)]);
    }

    /// <summary>The tokens generation continues from: a conversation with the generation prompt, or prompt + separator.</summary>
    public int[] EncodeGenerationPrompt(string input, string source)
    {
        if (!Conversational)
        {
            return EncodePrompt(input);
        }
        var ids = Conversations.EncodePrompt(ConversationJson.Parse(input, source));
        return ids.Length <= MaxLength ? ids : ids[^MaxLength..];
    }

    /// <summary>Token ids that end a generated reply: EOS and, for conversations, the template's end-of-turn token.</summary>
    public IReadOnlyList<int>? GenerationStopIds()
    {
        var ids = new List<int>();
        if (tokenizer.EosId is { } eos)
        {
            ids.Add(eos);
        }
        if (Conversational)
        {
            ids.AddRange(Conversations.EndOfTurnIds().Where(id => !ids.Contains(id)));
        }
        return ids.Count == 0 ? null : ids;
    }
}
