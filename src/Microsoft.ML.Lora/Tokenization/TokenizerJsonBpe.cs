using System.Text.Json;
using System.Text.RegularExpressions;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>Reads a byte-level BPE tokenizer.json (GPT-2, Qwen2, Llama 3, SmolLM, RoBERTa).</summary>
internal static class TokenizerJsonBpe
{
    public static ByteLevelBpeDefinition Read(JsonElement root, string source)
    {
        var model = TokenizerJson.Model(root, source);
        if (JsonFields.Bool(model, "byte_fallback", source) == true)
        {
            throw new InvalidTokenizerException(source, "BPE with byte_fallback is SentencePiece-style; load the folder's tokenizer.model instead.");
        }
        if (!string.IsNullOrEmpty(JsonFields.String(model, "continuing_subword_prefix", source))
            || !string.IsNullOrEmpty(JsonFields.String(model, "end_of_word_suffix", source)))
        {
            throw new InvalidTokenizerException(source, "byte-level BPE with a continuing_subword_prefix or end_of_word_suffix is not supported.");
        }
        var (patterns, addPrefixSpace) = ReadPreTokenizer(JsonFields.Member(root, "pre_tokenizer"), source);
        return new ByteLevelBpeDefinition(
            source,
            BpeFileReaders.ReadVocabulary(JsonFields.Member(model, "vocab") ?? throw new InvalidTokenizerException(source, "model has no 'vocab'."), source),
            BpeFileReaders.ReadMergesJson(JsonFields.Member(model, "merges"), source),
            TokenizerJson.AddedTokens(root, source),
            ReadNormalizer(JsonFields.Member(root, "normalizer"), source),
            patterns,
            addPrefixSpace,
            JsonFields.Bool(model, "ignore_merges", source) ?? false,
            JsonFields.String(model, "unk_token", source),
            PostProcessTemplate.FromTokenizerJson(JsonFields.Member(root, "post_processor"), source));
    }

    /// <summary>The split patterns of a pre_tokenizer and whether ByteLevel adds a prefix space.</summary>
    private static (List<Regex> Patterns, bool AddPrefixSpace) ReadPreTokenizer(JsonElement? preTokenizer, string source)
    {
        var patterns = new List<Regex>();
        var addPrefixSpace = false;
        Visit(preTokenizer);
        return (patterns, addPrefixSpace);

        void Visit(JsonElement? step)
        {
            if (step is not { } s)
            {
                return;
            }
            var type = JsonFields.String(s, "type", source);
            switch (type)
            {
                case "Sequence":
                    foreach (var inner in JsonFields.Array(s, "pretokenizers", source))
                    {
                        Visit(inner);
                    }
                    break;
                case "ByteLevel":
                    // HF's defaults when a field is absent: add_prefix_space true, use_regex true.
                    addPrefixSpace |= JsonFields.Bool(s, "add_prefix_space", source) ?? true;
                    if (JsonFields.Bool(s, "use_regex", source) ?? true)
                    {
                        patterns.Add(SplitSequencePreTokenizer.Compile(SplitSequencePreTokenizer.Gpt2Pattern));
                    }
                    break;
                case "Split":
                    patterns.Add(ReadSplit(s, source));
                    break;
                case "Digits":
                    patterns.Add(SplitSequencePreTokenizer.Compile(JsonFields.Bool(s, "individual_digits", source) == true ? @"\p{N}" : @"\p{N}+"));
                    break;
                default:
                    throw new InvalidTokenizerException(source, $"pre_tokenizer type '{type}' is not supported for byte-level BPE (supported: ByteLevel, Split, Digits, Sequence).");
            }
        }
    }

    private static Regex ReadSplit(JsonElement split, string source)
    {
        var behavior = JsonFields.String(split, "behavior", source);
        if (behavior != "Isolated" || JsonFields.Bool(split, "invert", source) == true)
        {
            throw new InvalidTokenizerException(source, $"Split pre-tokenizer with behavior '{behavior}' (invert {JsonFields.Bool(split, "invert", source) ?? false}) is not supported; only Isolated, not inverted.");
        }
        var pattern = JsonFields.Member(split, "pattern") ?? throw new InvalidTokenizerException(source, "Split pre-tokenizer has no 'pattern'.");
        var text = JsonFields.String(pattern, "Regex", source) ?? (JsonFields.String(pattern, "String", source) is { } literal ? Regex.Escape(literal) : null)
            ?? throw new InvalidTokenizerException(source, $"Split pattern must be {{\"Regex\": ...}} or {{\"String\": ...}}, found {pattern}.");
        try
        {
            return SplitSequencePreTokenizer.Compile(text);
        }
        catch (ArgumentException e)
        {
            throw new InvalidTokenizerException(source, $"Split pattern '{text}' is not a valid .NET regular expression: {e.Message}", e);
        }
    }

    /// <summary>A normalizer of Unicode forms and lower-casing (Qwen2: NFC); null when there is none.</summary>
    private static Func<string, string>? ReadNormalizer(JsonElement? normalizer, string source)
    {
        if (normalizer is not { } n)
        {
            return null;
        }
        var type = JsonFields.String(n, "type", source);
        if (UnicodeNormalization.FormOf(type) is { } form)
        {
            return text => UnicodeNormalization.Normalize(text, form);
        }
        switch (type)
        {
            case "Lowercase":
                return text => text.ToLowerInvariant();
            case "Sequence":
                var steps = JsonFields.Array(n, "normalizers", source).Select(step => ReadNormalizer(step, source)).OfType<Func<string, string>>().ToList();
                return text => steps.Aggregate(text, (current, step) => step(current));
            default:
                throw new InvalidTokenizerException(source, $"normalizer type '{type}' is not supported for byte-level BPE (supported: NFC, NFD, NFKC, NFKD, Lowercase, Sequence).");
        }
    }
}
