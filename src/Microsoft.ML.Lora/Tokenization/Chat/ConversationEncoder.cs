namespace Microsoft.ML.Lora.Tokenization.Chat;

/// <summary>A rendered conversation's token ids, and for each whether it belongs to an assistant turn (the fine-tuning targets).</summary>
public sealed record EncodedConversation(int[] Ids, bool[] AssistantMask, string Text);

/// <summary>
/// Encodes conversations through a chat template as transformers' apply_chat_template(tokenize=True) does: render, then
/// tokenize the text without adding special tokens (the template writes them). For fine-tuning it marks the assistant
/// tokens without needing <c>{% generation %}</c> tags: an assistant turn starts where the template's generation prompt
/// for the conversation before it ends, and ends after its content and the special token that closes the turn
/// (&lt;|im_end|&gt;, &lt;|eot_id|&gt;, &lt;end_of_turn&gt;, &lt;/s&gt;), so the model learns to stop. Positions come from
/// encoding the rendered prefixes, so the ids are those of the whole text, exactly.
/// </summary>
public sealed class ConversationEncoder(IChatTemplate template, TextTokenizer tokenizer)
{
    /// <summary>The template conversations are rendered with.</summary>
    public IChatTemplate Template { get; } = template ?? throw new ArgumentNullException(nameof(template));

    /// <summary>The tokenizer.</summary>
    public TextTokenizer Tokenizer { get; } = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));

    /// <summary>The ids of a conversation ready for the assistant's next reply (rendered with the generation prompt).</summary>
    public int[] EncodePrompt(IReadOnlyList<ConversationMessage> messages) => [.. Tokenizer.Encode(Template.Render(messages, addGenerationPrompt: true))];

    /// <summary>A whole conversation (without a generation prompt) with its assistant-token mask.</summary>
    /// <exception cref="ChatTemplateException">An assistant turn cannot be located in the rendered text (a template that rewrites earlier turns).</exception>
    public EncodedConversation Encode(IReadOnlyList<ConversationMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var text = Template.Render(messages, addGenerationPrompt: false);
        var ids = Tokenizer.Encode(text).ToArray();
        var mask = new bool[ids.Length];
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role != ConversationMessage.AssistantRole)
            {
                continue;
            }
            var prompt = Template.Render([.. messages.Take(i)], addGenerationPrompt: true);
            if (!text.StartsWith(prompt, StringComparison.Ordinal))
            {
                throw new ChatTemplateException($"message {i} (assistant): the template renders the conversation before it, with the generation prompt, differently from the whole conversation, so its tokens cannot be located.");
            }
            int contentEnd = ContentEnd(text, prompt.Length, messages[i].Content)
                ?? throw new ChatTemplateException($"message {i} (assistant): its content does not appear in the rendered conversation after the generation prompt.");
            int start = CommonPrefix(Tokenizer.Encode(prompt), ids);
            int end = ExtendOverTurnEnd(ids, Math.Max(start, CommonPrefix(Tokenizer.Encode(text[..contentEnd]), ids)));
            for (int t = start; t < end; t++)
            {
                mask[t] = true;
            }
        }
        return new EncodedConversation(ids, mask, text);
    }

    /// <summary>
    /// The special tokens that close an assistant turn in this template (found by encoding a probe conversation);
    /// generation stops on them as on EOS.
    /// </summary>
    public IReadOnlyList<int> EndOfTurnIds()
    {
        var probe = Encode([new(ConversationMessage.UserRole, "Hi"), new(ConversationMessage.AssistantRole, "Hello")]);
        int last = Array.LastIndexOf(probe.AssistantMask, true);
        return last >= 0 && Tokenizer.IsSpecial(probe.Ids[last]) ? [probe.Ids[last]] : [];
    }

    /// <summary>Where the assistant's content ends in the text (templates may trim it or split off a reasoning part).</summary>
    private static int? ContentEnd(string text, int from, string content)
    {
        foreach (var candidate in new[] { content, content.Trim(), content.TrimEnd(), content.Split("</think>")[^1].Trim() }.Distinct())
        {
            int at = text.IndexOf(candidate, from, StringComparison.Ordinal);
            if (at >= 0)
            {
                return at + candidate.Length;
            }
        }
        return null;
    }

    /// <summary>After the content: whitespace tokens, then the special token closing the turn, belong to the turn.</summary>
    private int ExtendOverTurnEnd(int[] ids, int end)
    {
        for (int j = end; j < ids.Length; j++)
        {
            if (Tokenizer.IsSpecial(ids[j]))
            {
                return j + 1;
            }
            if (Tokenizer.Decode([ids[j]]).Trim().Length > 0)
            {
                break;
            }
        }
        return end;
    }

    private static int CommonPrefix(IReadOnlyList<int> a, int[] b)
    {
        int n = Math.Min(a.Count, b.Length), k = 0;
        while (k < n && a[k] == b[k])
        {
            k++;
        }
        return k;
    }
}
