using Microsoft.ML.Lora.Tokenization.Chat.Jinja;

namespace Microsoft.ML.Lora.Tokenization.Chat;

/// <summary>
/// A Hugging Face chat template (the <c>chat_template</c> of tokenizer_config.json) rendered by this library's
/// Jinja subset with transformers' settings (trim_blocks, lstrip_blocks, loop controls, <c>raise_exception</c>,
/// <c>tojson</c>, <c>strftime_now</c>). The template is parsed once; rendering is thread-safe.
/// </summary>
public sealed class JinjaChatTemplate : IChatTemplate
{
    private readonly IReadOnlyList<Node> _nodes;
    private readonly IReadOnlyDictionary<string, object?> _variables;

    /// <summary>
    /// Parses <paramref name="source"/>; <paramref name="variables"/> are the extra names it sees (transformers passes the
    /// tokenizer's special tokens: bos_token, eos_token, ...). Strings, numbers and booleans are accepted.
    /// </summary>
    /// <exception cref="ChatTemplateException">The template has a syntax error or uses a construct outside the subset.</exception>
    public JinjaChatTemplate(string source, IReadOnlyDictionary<string, object?>? variables = null, string name = "chat template")
    {
        ArgumentNullException.ThrowIfNull(source);
        Source = source;
        Name = name;
        _variables = variables ?? new Dictionary<string, object?>();
        try
        {
            _nodes = JinjaParser.Parse(source);
        }
        catch (ChatTemplateException e)
        {
            throw new ChatTemplateException($"{name}: {e.Message}", e);
        }
    }

    /// <summary>The Jinja source.</summary>
    public string Source { get; }

    /// <summary>Where the template came from, for messages (a built-in name or a file).</summary>
    public string Name { get; }

    /// <summary>The special tokens and other variables the template sees besides messages and add_generation_prompt.</summary>
    public IReadOnlyDictionary<string, object?> Variables => _variables;

    /// <inheritdoc />
    /// <exception cref="ChatTemplateException">Rendering failed, e.g. the template's own raise_exception (roles must alternate).</exception>
    public string Render(IReadOnlyList<ConversationMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in _variables)
        {
            values[key] = value is int i ? (long)i : value;
        }
        values["messages"] = messages.Select(m => (object?)new OrderedDictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList();
        values["add_generation_prompt"] = addGenerationPrompt;
        try
        {
            return new JinjaRenderer(values).Render(_nodes);
        }
        catch (ChatTemplateException e)
        {
            throw new ChatTemplateException($"{Name}: {e.Message}", e);
        }
    }
}
