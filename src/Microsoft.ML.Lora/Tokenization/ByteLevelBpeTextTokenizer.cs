using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>A byte-level BPE tokenizer as read from tokenizer.json or vocab.json + merges.txt.</summary>
/// <param name="Source">The file it was read from, for messages.</param>
/// <param name="Vocabulary">Model vocabulary, token string (byte-level alphabet) → id.</param>
/// <param name="Merges">Merge rules in priority order.</param>
/// <param name="AddedTokens">Tokens matched whole in raw text.</param>
/// <param name="Normalize">The normalizer (Qwen2: NFC), or null.</param>
/// <param name="SplitPatterns">The pre-tokenizer's split patterns, applied in order.</param>
/// <param name="AddPrefixSpace">Whether a space is put before text that does not start with one (RoBERTa-style).</param>
/// <param name="IgnoreMerges">Whether a pre-tokenized word found whole in the vocabulary skips merging (Llama 3).</param>
/// <param name="UnknownToken">The model's unknown token, or null.</param>
/// <param name="Template">The post-processor template, or null when the file has none that adds tokens.</param>
internal sealed record ByteLevelBpeDefinition(
    string Source,
    IReadOnlyDictionary<string, int> Vocabulary,
    IReadOnlyList<(string Left, string Right)> Merges,
    IReadOnlyList<AddedToken> AddedTokens,
    Func<string, string>? Normalize,
    IReadOnlyList<Regex> SplitPatterns,
    bool AddPrefixSpace,
    bool IgnoreMerges,
    string? UnknownToken,
    PostProcessTemplate? Template);

/// <summary>
/// Byte-level BPE (GPT-2, Qwen2, Llama 3, SmolLM, RoBERTa) on Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>.
/// This class adds what BpeOptions cannot express: HF's split sequence, added tokens, the prefix space
/// and ignore_merges.
/// </summary>
internal sealed class ByteLevelBpeTextTokenizer : HfTextTokenizer
{
    private const string EndOfText = "<|endoftext|>";

    private readonly BpeTokenizer _bpe;
    private readonly ByteLevelBpeDefinition _definition;
    private readonly SplitSequencePreTokenizer _preTokenizer;
    private readonly Dictionary<int, string> _tokenOfId;

    private ByteLevelBpeTextTokenizer(BpeTokenizer bpe, ByteLevelBpeDefinition definition, SplitSequencePreTokenizer preTokenizer, TokenizerCommon common)
        : base(common)
    {
        _bpe = bpe;
        _definition = definition;
        _preTokenizer = preTokenizer;
        _tokenOfId = new Dictionary<int, string>(definition.Vocabulary.Count);
        foreach (var (token, id) in definition.Vocabulary)
        {
            _tokenOfId.TryAdd(id, token);
        }
        OrdinaryVocabularySize = _tokenOfId.Count == 0 ? 0 : _tokenOfId.Keys.Max() + 1;
    }

    /// <inheritdoc/>
    public override string Kind => "bpe";

    /// <inheritdoc/>
    protected override int OrdinaryVocabularySize { get; }

    public static ByteLevelBpeTextTokenizer Create(ByteLevelBpeDefinition definition, TokenizerSettings settings, IReadOnlyDictionary<string, byte[]> files)
    {
        foreach (var (left, right) in definition.Merges)
        {
            if (left.Contains(' ') || right.Contains(' '))
            {
                throw new InvalidTokenizerException(definition.Source, $"merge ('{left}', '{right}') has a token with a space, which Microsoft.ML.Tokenizers' BPE cannot represent (byte-level vocabularies spell spaces as 'Ġ').");
            }
        }
        var preTokenizer = new SplitSequencePreTokenizer(definition.SplitPatterns);
        BpeTokenizer bpe;
        try
        {
            bpe = BpeTokenizer.Create(new BpeOptions(definition.Vocabulary)
            {
                Merges = definition.Merges.Select(m => $"{m.Left} {m.Right}"),
                PreTokenizer = preTokenizer,
                ByteLevel = true,
                UnknownToken = definition.UnknownToken,
            });
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            throw new InvalidTokenizerException(definition.Source, $"Microsoft.ML.Tokenizers rejected the BPE model: {e.Message}", e);
        }

        var addedTokens = AddedTokensWithDefaults(definition);
        var lookup = Lookup(addedTokens, definition.Vocabulary);
        var vocabularySize = Math.Max(definition.Vocabulary.Values.DefaultIfEmpty(-1).Max(), addedTokens.Select(t => t.Id).DefaultIfEmpty(-1).Max()) + 1;
        var defaults = lookup(EndOfText) is null
            ? new Dictionary<string, string>()
            : new Dictionary<string, string> { ["bos_token"] = EndOfText, ["eos_token"] = EndOfText, ["unk_token"] = EndOfText };
        var roles = SpecialTokenRoles.Resolve(settings, defaults, lookup, addedTokens, vocabularySize);
        var template = definition.Template
            ?? (settings.AddBosToken == true && roles["bos_token"] is { } bos
                ? PostProcessTemplate.Decoder(bos, settings.AddEosToken == true ? roles["eos_token"] : null)
                : PostProcessTemplate.Plain);
        return new ByteLevelBpeTextTokenizer(bpe, definition, preTokenizer, new TokenizerCommon(addedTokens, roles, template, files));
    }

    /// <summary>
    /// GPT-2's vocab.json has no added-token list; transformers treats &lt;|endoftext|&gt; as special there,
    /// so it is cut out of raw text like any added token.
    /// </summary>
    private static List<AddedToken> AddedTokensWithDefaults(ByteLevelBpeDefinition definition)
    {
        var tokens = definition.AddedTokens.ToList();
        if (tokens.All(t => t.Content != EndOfText) && definition.Vocabulary.TryGetValue(EndOfText, out var id))
        {
            tokens.Add(new AddedToken(EndOfText, id, Special: true));
        }
        return tokens;
    }

    /// <inheritdoc/>
    protected override void EncodeOrdinary(string text, List<int> ids)
    {
        var normalized = _definition.Normalize?.Invoke(text) ?? text;
        if (_definition.AddPrefixSpace && !normalized.StartsWith(' '))
        {
            normalized = " " + normalized;
        }
        if (!_definition.IgnoreMerges)
        {
            ids.AddRange(_bpe.EncodeToIds(normalized, considerPreTokenization: true, considerNormalization: false));
            return;
        }
        foreach (var (offset, length) in _preTokenizer.PreTokenize(normalized))
        {
            var word = normalized.Substring(offset, length);
            if (_definition.Vocabulary.TryGetValue(ByteLevelAlphabet.Encode(word), out var id))
            {
                ids.Add(id);
            }
            else
            {
                ids.AddRange(_bpe.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false));
            }
        }
    }

    /// <inheritdoc/>
    protected override string DecodeOrdinary(IReadOnlyList<int> ids) => _bpe.Decode(ids, considerSpecialTokens: true);

    /// <inheritdoc/>
    protected override string? OrdinaryIdToToken(int id) => _tokenOfId.TryGetValue(id, out var token) ? token : null;

    /// <inheritdoc/>
    protected override int? OrdinaryTokenToId(string token) => _definition.Vocabulary.TryGetValue(token, out var id) ? id : null;
}
