using System.Text;
using System.Text.Json;

namespace Microsoft.ML.Lora.Tokenization.Chat;

/// <summary>
/// Reads a conversation as SFT data sets write it: a JSON array of <c>{"role": …, "content": …}</c>, or an object whose
/// <c>messages</c> member is one (a JSONL row). Content may also be a list of parts, whose <c>text</c> parts are joined.
/// </summary>
public static class ConversationJson
{
    /// <summary>Parses one conversation; <paramref name="source"/> names it in errors (a file and row, a column).</summary>
    /// <exception cref="FormatException">The text is not a conversation: not JSON, no messages, a message without a role or text content.</exception>
    public static IReadOnlyList<ConversationMessage> Parse(string json, string source)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{source}: the conversation is not valid JSON ({e.Message}). Expected [{{\"role\": \"user\", \"content\": \"…\"}}, …].", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("messages", out var inner))
            {
                root = inner;
            }
            if (root.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException($"{source}: a conversation must be a JSON array of messages (or an object with 'messages'), found {root.ValueKind}.");
            }
            var messages = new List<ConversationMessage>();
            foreach (var item in root.EnumerateArray())
            {
                int index = messages.Count;
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(role.GetString()))
                {
                    throw new FormatException($"{source}: message {index} has no 'role' string.");
                }
                messages.Add(new ConversationMessage(role.GetString()!, Content(item, index, source)));
            }
            if (messages.Count == 0)
            {
                throw new FormatException($"{source}: the conversation has no messages.");
            }
            return messages;
        }
    }

    /// <summary>The conversation as a JSON array (what <see cref="Parse"/> reads back).</summary>
    public static string Write(IEnumerable<ConversationMessage> messages) =>
        JsonSerializer.Serialize(messages.Select(m => new Dictionary<string, string> { ["role"] = m.Role, ["content"] = m.Content }));

    private static string Content(JsonElement message, int index, string source)
    {
        if (!message.TryGetProperty("content", out var content))
        {
            throw new FormatException($"{source}: message {index} has no 'content'.");
        }
        switch (content.ValueKind)
        {
            case JsonValueKind.String:
                return content.GetString()!;
            case JsonValueKind.Array:
                var text = new StringBuilder();
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                    {
                        text.Append(t.GetString());
                    }
                    else
                    {
                        throw new FormatException($"{source}: message {index} has a content part without 'text' (only text parts are supported).");
                    }
                }
                return text.ToString();
            default:
                throw new FormatException($"{source}: message {index}'s 'content' is a JSON {content.ValueKind}; expected text.");
        }
    }
}
