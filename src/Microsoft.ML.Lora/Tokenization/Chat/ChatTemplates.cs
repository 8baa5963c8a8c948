using System.Text;
using System.Text.Json;

namespace Microsoft.ML.Lora.Tokenization.Chat;

/// <summary>
/// Finds the chat template of a model: the one its tokenizer files carry (tokenizer_config.json's
/// <c>chat_template</c>, or chat_template.jinja), else a built-in one recognised from the vocabulary's turn markers
/// (ChatML's &lt;|im_start|&gt;, Llama 3's &lt;|start_header_id|&gt;, Gemma's &lt;start_of_turn&gt;, Mistral's [INST]),
/// else <see cref="Plain"/>. Built-ins can also be chosen by name (Llama 2's [INST] format has no marker tokens).
/// </summary>
public static class ChatTemplates
{
    /// <summary>ChatML (Qwen2, Qwen3, SmolLM2): <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>.</summary>
    public const string ChatMl = "chatml";

    /// <summary>Meta's Llama 2 chat format: <c>&lt;s&gt;[INST] &lt;&lt;SYS&gt;&gt;…&lt;&lt;/SYS&gt;&gt; user [/INST] answer &lt;/s&gt;</c>.</summary>
    public const string Llama2 = "llama2";

    /// <summary>Meta's Llama 3 format: <c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c>.</summary>
    public const string Llama3 = "llama3";

    /// <summary>Mistral's instruct format: <c>&lt;s&gt;[INST] user [/INST]answer&lt;/s&gt;</c> (a system message opens the first user turn).</summary>
    public const string Mistral = "mistral";

    /// <summary>Gemma's format: <c>&lt;start_of_turn&gt;user|model\ncontent&lt;end_of_turn&gt;\n</c>.</summary>
    public const string Gemma = "gemma";

    /// <summary>
    /// The fallback for models without a template (base models such as stories260K): BOS, then one line per message,
    /// "System: …", "User: …", "Assistant: …" + EOS; the generation prompt is "Assistant:".
    /// </summary>
    public const string Plain = "plain";

    /// <summary>The built-in templates' names.</summary>
    public static IReadOnlyList<string> BuiltInNames { get; } = [ChatMl, Llama2, Llama3, Mistral, Gemma, Plain];

    /// <summary>The Jinja source of a built-in template.</summary>
    /// <exception cref="ArgumentException">No built-in template has this name.</exception>
    public static string BuiltInSource(string name)
    {
        if (!BuiltInNames.Contains(name))
        {
            throw new ArgumentException($"'{name}' is not a built-in chat template. Built-in: {string.Join(", ", BuiltInNames)}.", nameof(name));
        }
        using var stream = typeof(ChatTemplates).Assembly.GetManifestResourceStream($"ChatTemplates.{name}.jinja")
            ?? throw new InvalidOperationException($"The built-in chat template '{name}' is missing from {typeof(ChatTemplates).Assembly.GetName().Name}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// The template for <paramref name="tokenizer"/>'s model: <paramref name="nameOrSource"/> when given (a built-in
    /// name or Jinja source), else <see cref="ForTokenizer"/>.
    /// </summary>
    public static JinjaChatTemplate Resolve(string? nameOrSource, TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (string.IsNullOrEmpty(nameOrSource))
        {
            return ForTokenizer(tokenizer);
        }
        return BuiltInNames.Contains(nameOrSource)
            ? new JinjaChatTemplate(BuiltInSource(nameOrSource), SpecialTokenVariables(tokenizer), $"built-in chat template '{nameOrSource}'")
            : new JinjaChatTemplate(nameOrSource, SpecialTokenVariables(tokenizer));
    }

    /// <summary>The model's own template, a built-in one its turn-marker tokens identify, or <see cref="Plain"/>.</summary>
    public static JinjaChatTemplate ForTokenizer(TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (ModelTemplateSource(tokenizer) is { } own)
        {
            return new JinjaChatTemplate(own.Source, SpecialTokenVariables(tokenizer), own.File);
        }
        var name = RecognizedFamily(tokenizer);
        return new JinjaChatTemplate(BuiltInSource(name), SpecialTokenVariables(tokenizer), $"built-in chat template '{name}'");
    }

    /// <summary>The built-in template whose turn markers the vocabulary has, or <see cref="Plain"/>.</summary>
    public static string RecognizedFamily(TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        bool Has(string token) => tokenizer.TokenToId(token) is not null;
        if (Has("<|im_start|>") && Has("<|im_end|>"))
        {
            return ChatMl;
        }
        if (Has("<|start_header_id|>") && Has("<|eot_id|>"))
        {
            return Llama3;
        }
        if (Has("<start_of_turn>") && Has("<end_of_turn>"))
        {
            return Gemma;
        }
        return Has("[INST]") && Has("[/INST]") ? Mistral : Plain;
    }

    /// <summary>The template the tokenizer files carry (chat_template.jinja, or tokenizer_config.json's chat_template), or null.</summary>
    /// <exception cref="InvalidTokenizerException">chat_template is neither a string nor a list of named templates.</exception>
    public static (string Source, string File)? ModelTemplateSource(TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.Files.TryGetValue(TokenizerFileNames.ChatTemplateJinja, out var jinja))
        {
            return (Encoding.UTF8.GetString(jinja), TokenizerFileNames.ChatTemplateJinja);
        }
        if (Config(tokenizer) is not { } config || !config.TryGetProperty("chat_template", out var template))
        {
            return null;
        }
        const string file = TokenizerFileNames.TokenizerConfig;
        switch (template.ValueKind)
        {
            case JsonValueKind.String:
                return (template.GetString()!, file);
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.Array:
                // Several named templates (e.g. "default" and "tool_use"): conversations use "default".
                foreach (var entry in template.EnumerateArray())
                {
                    if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String &&
                        name.GetString() == "default" && entry.TryGetProperty("template", out var source) && source.ValueKind == JsonValueKind.String)
                    {
                        return (source.GetString()!, file);
                    }
                }
                throw new InvalidTokenizerException(file, "chat_template lists named templates but none is named 'default'.");
            default:
                throw new InvalidTokenizerException(file, $"chat_template is a JSON {template.ValueKind}; expected a string or a list of {{name, template}}.");
        }
    }

    /// <summary>
    /// What transformers passes to a template besides the messages: the special tokens as tokenizer_config.json names
    /// them (a token it sets to null is left undefined), else as the tokenizer resolved them.
    /// </summary>
    public static IReadOnlyDictionary<string, object?> SpecialTokenVariables(TextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var config = Config(tokenizer);
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (role, id) in new[] { ("bos_token", tokenizer.BosId), ("eos_token", tokenizer.EosId), ("unk_token", tokenizer.UnkId), ("pad_token", (int?)tokenizer.PadId) })
        {
            if (config is { } c && c.TryGetProperty(role, out var named))
            {
                var token = named.ValueKind switch
                {
                    JsonValueKind.String => named.GetString(),
                    JsonValueKind.Object when named.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String => content.GetString(),
                    _ => null,
                };
                if (token is not null)
                {
                    variables[role] = token;
                }
                continue;
            }
            if (id is { } value && tokenizer.IdToToken(value) is { } text)
            {
                variables[role] = text;
            }
        }
        return variables;
    }

    private static JsonElement? Config(TextTokenizer tokenizer)
    {
        if (!tokenizer.Files.TryGetValue(TokenizerFileNames.TokenizerConfig, out var bytes))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(bytes);
            return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : null;
        }
        catch (JsonException e)
        {
            throw new InvalidTokenizerException(TokenizerFileNames.TokenizerConfig, $"invalid JSON: {e.Message}", e);
        }
    }
}
