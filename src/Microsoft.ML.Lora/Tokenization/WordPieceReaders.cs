using System.Text.Json;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>Reads WordPiece vocabularies from vocab.txt or a tokenizer.json of model type WordPiece.</summary>
internal static class WordPieceReaders
{
    private const int DefaultMaxInputCharsPerWord = 100;

    /// <summary>
    /// vocab.txt: one token per line, id = line number. Lower-casing follows tokenizer_config.json's
    /// do_lower_case; without it, a vocabulary with no upper-case letters outside [BRACKETED] tokens
    /// is taken as uncased (bert-base-uncased) and one with them as cased. Only ASCII letters count:
    /// uncased vocabularies keep a few upper-case symbols such as ℝ.
    /// </summary>
    public static WordPieceDefinition FromVocabTxt(string text, string source, TokenizerSettings settings)
    {
        if (text.StartsWith('\uFEFF'))
        {
            text = text[1..];
        }
        var tokens = text.Split('\n').Select(line => line.TrimEnd('\r')).ToList();
        while (tokens.Count > 0 && tokens[^1].Length == 0)
        {
            tokens.RemoveAt(tokens.Count - 1);
        }
        if (tokens.Count == 0)
        {
            throw new InvalidTokenizerException(source, "the vocabulary is empty.");
        }
        var lowercase = settings.DoLowerCase ?? IsUncasedVocabulary(tokens);
        var normalizer = new BertTextNormalizer(
            CleanText: true,
            HandleChineseChars: settings.TokenizeChineseChars ?? true,
            StripAccents: settings.StripAccents ?? lowercase,
            Lowercase: lowercase);
        var unknown = settings.Token("unk_token")?.Value ?? "[UNK]";
        return new WordPieceDefinition(source, tokens, unknown, "##", DefaultMaxInputCharsPerWord, normalizer, settings.AddedTokens, Template: null);
    }

    /// <summary>
    /// Whether a vocabulary is uncased: no ASCII upper-case letter outside [BRACKETED] special tokens
    /// (uncased vocabularies keep a few upper-case symbols such as ℝ, so only ASCII letters count).
    /// </summary>
    public static bool IsUncasedVocabulary(IEnumerable<string> tokens) =>
        !tokens.Any(t => !(t.StartsWith('[') && t.EndsWith(']')) && t.Any(char.IsAsciiLetterUpper));

    /// <summary>A tokenizer.json with a WordPiece model, a BertNormalizer and a BertPreTokenizer.</summary>
    public static WordPieceDefinition FromTokenizerJson(JsonElement root, string source)
    {
        var model = TokenizerJson.Model(root, source);
        var vocabulary = BpeFileReaders.ReadVocabulary(JsonFields.Member(model, "vocab") ?? throw new InvalidTokenizerException(source, "model has no 'vocab'."), source);
        var tokens = new string[vocabulary.Count];
        foreach (var (token, id) in vocabulary)
        {
            if (id >= tokens.Length || tokens[id] is not null)
            {
                throw new InvalidTokenizerException(source, $"WordPiece ids must be 0..{tokens.Length - 1} without gaps; '{token}' has id {id}.");
            }
            tokens[id] = token;
        }
        var preTokenizer = JsonFields.Member(root, "pre_tokenizer") is { } p ? JsonFields.String(p, "type", source) : null;
        if (preTokenizer is not null and not "BertPreTokenizer")
        {
            throw new InvalidTokenizerException(source, $"WordPiece with pre_tokenizer '{preTokenizer}' is not supported (supported: BertPreTokenizer).");
        }
        return new WordPieceDefinition(
            source,
            tokens,
            JsonFields.String(model, "unk_token", source) ?? "[UNK]",
            JsonFields.String(model, "continuing_subword_prefix", source) ?? "##",
            JsonFields.Int(model, "max_input_chars_per_word", source) ?? DefaultMaxInputCharsPerWord,
            ReadNormalizer(JsonFields.Member(root, "normalizer"), source),
            TokenizerJson.AddedTokens(root, source),
            PostProcessTemplate.FromTokenizerJson(JsonFields.Member(root, "post_processor"), source));
    }

    private static BertTextNormalizer ReadNormalizer(JsonElement? normalizer, string source)
    {
        if (normalizer is not { } n)
        {
            return new BertTextNormalizer(false, false, false, false);
        }
        var type = JsonFields.String(n, "type", source);
        if (type != "BertNormalizer")
        {
            throw new InvalidTokenizerException(source, $"WordPiece with normalizer '{type}' is not supported (supported: BertNormalizer).");
        }
        // HF's defaults for absent fields; strip_accents null means "as lowercase".
        var lowercase = JsonFields.Bool(n, "lowercase", source) ?? true;
        return new BertTextNormalizer(
            JsonFields.Bool(n, "clean_text", source) ?? true,
            JsonFields.Bool(n, "handle_chinese_chars", source) ?? true,
            JsonFields.Bool(n, "strip_accents", source) ?? lowercase,
            lowercase);
    }
}
