using System.Text.Json;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>A setting's value and the file it was read from (for error messages).</summary>
internal readonly record struct Sourced<T>(T Value, string Source);

/// <summary>
/// What tokenizer_config.json, special_tokens_map.json, generation_config.json and config.json say
/// about special tokens and options. special_tokens_map.json ranks before tokenizer_config.json, as
/// in transformers; the model configs only supply ids that the tokenizer files leave open.
/// </summary>
internal sealed class TokenizerSettings
{
    private readonly Dictionary<string, Sourced<string>> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Sourced<int>> _modelIds = new(StringComparer.Ordinal);

    public static readonly string[] Roles = ["bos_token", "eos_token", "pad_token", "unk_token", "cls_token", "sep_token", "mask_token"];

    public bool? AddBosToken { get; private init; }

    public bool? AddEosToken { get; private init; }

    public bool? DoLowerCase { get; private init; }

    public bool? StripAccents { get; private init; }

    public bool? TokenizeChineseChars { get; private init; }

    /// <summary>Added tokens listed in tokenizer_config.json's added_tokens_decoder.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; private init; } = [];

    /// <summary>The token string a file gives for a role ("bos_token", ...), if any.</summary>
    public Sourced<string>? Token(string role) => _tokens.TryGetValue(role, out var token) ? token : null;

    /// <summary>The id config.json / generation_config.json give for a role ("bos_token" → bos_token_id), if any.</summary>
    public Sourced<int>? ModelId(string role) => _modelIds.TryGetValue(role, out var id) ? id : null;

    public static TokenizerSettings Read(TokenizerFileSet files)
    {
        var config = files.JsonOrNull(TokenizerFileNames.TokenizerConfig);
        var configSource = files.SourceOf(TokenizerFileNames.TokenizerConfig);
        var settings = new TokenizerSettings
        {
            AddBosToken = config is { } c1 ? JsonFields.Bool(c1, "add_bos_token", configSource) : null,
            AddEosToken = config is { } c2 ? JsonFields.Bool(c2, "add_eos_token", configSource) : null,
            DoLowerCase = config is { } c3 ? JsonFields.Bool(c3, "do_lower_case", configSource) : null,
            StripAccents = config is { } c4 ? JsonFields.Bool(c4, "strip_accents", configSource) : null,
            TokenizeChineseChars = config is { } c5 ? JsonFields.Bool(c5, "tokenize_chinese_chars", configSource) : null,
            AddedTokens = config is { } c6 ? ReadAddedTokensDecoder(c6, configSource) : [],
        };
        // Later files overwrite earlier ones: the model configs, then tokenizer_config, then special_tokens_map.
        foreach (var name in new[] { TokenizerFileNames.ModelConfig, TokenizerFileNames.GenerationConfig })
        {
            if (files.JsonOrNull(name) is { } modelConfig)
            {
                foreach (var role in new[] { "bos_token", "eos_token", "pad_token" })
                {
                    if (JsonFields.FirstInt(modelConfig, role + "_id", files.SourceOf(name)) is { } id)
                    {
                        settings._modelIds[role] = new(id, files.SourceOf(name));
                    }
                }
            }
        }
        foreach (var name in new[] { TokenizerFileNames.TokenizerConfig, TokenizerFileNames.SpecialTokensMap })
        {
            if (files.JsonOrNull(name) is { } json)
            {
                foreach (var role in Roles)
                {
                    if (JsonFields.TokenContent(json, role, files.SourceOf(name)) is { } token)
                    {
                        settings._tokens[role] = new(token, files.SourceOf(name));
                    }
                }
            }
        }
        return settings;
    }

    private static List<AddedToken> ReadAddedTokensDecoder(JsonElement config, string source)
    {
        var tokens = new List<AddedToken>();
        if (JsonFields.Member(config, "added_tokens_decoder") is not { ValueKind: JsonValueKind.Object } decoder)
        {
            return tokens;
        }
        foreach (var entry in decoder.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, out var id) || id < 0 || id > BpeFileReaders.MaxTokenId)
            {
                throw new InvalidTokenizerException(source, $"added_tokens_decoder key '{entry.Name}' is not a token id.");
            }
            tokens.Add(ReadAddedToken(entry.Value, id, source));
        }
        return tokens;
    }

    /// <summary>Reads one HF AddedToken object ({"content", "special", "lstrip", "rstrip"}).</summary>
    public static AddedToken ReadAddedToken(JsonElement token, int id, string source) =>
        new(
            JsonFields.String(token, "content", source) ?? throw new InvalidTokenizerException(source, $"added token {id} has no 'content'."),
            id,
            JsonFields.Bool(token, "special", source) ?? false,
            JsonFields.Bool(token, "lstrip", source) ?? false,
            JsonFields.Bool(token, "rstrip", source) ?? false);
}
