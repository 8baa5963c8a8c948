using System.Text;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>A WordPiece tokenizer as read from vocab.txt or tokenizer.json.</summary>
/// <param name="Source">The file it was read from, for messages.</param>
/// <param name="Tokens">The vocabulary by id.</param>
/// <param name="UnknownToken">The token of words WordPiece cannot spell.</param>
/// <param name="ContinuingSubwordPrefix">The prefix of word-inner pieces ("##").</param>
/// <param name="MaxInputCharsPerWord">Longer words become the unknown token.</param>
/// <param name="Normalizer">HF BertNormalizer settings.</param>
/// <param name="AddedTokens">Tokens matched whole in raw text.</param>
/// <param name="Template">The post-processor template, or null for BERT's [CLS] A [SEP].</param>
internal sealed record WordPieceDefinition(
    string Source,
    IReadOnlyList<string> Tokens,
    string UnknownToken,
    string ContinuingSubwordPrefix,
    int MaxInputCharsPerWord,
    BertTextNormalizer Normalizer,
    IReadOnlyList<AddedToken> AddedTokens,
    PostProcessTemplate? Template);

/// <summary>
/// BERT-family WordPiece on Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/>, with HF's
/// normalizer and pre-tokenizer in front of it (the library's drop symbols such as '$' and '+').
/// BOS is [CLS] and EOS is [SEP]; model inputs are [CLS] text [SEP].
/// </summary>
internal sealed class WordPieceTextTokenizer : HfTextTokenizer
{
    /// <summary>
    /// HF BertPreTokenizer: whitespace separates words and every punctuation character is a word of
    /// its own, punctuation being Unicode P* plus the ASCII symbols $ + &lt; = &gt; ^ ` | ~.
    /// </summary>
    private const string BertPreTokenizerPattern = @"[^\s\p{P}$+<=>^`|~]+|[\p{P}$+<=>^`|~]";

    private readonly BertTokenizer _bert;
    private readonly WordPieceDefinition _definition;
    private readonly Dictionary<string, int> _ids;

    private WordPieceTextTokenizer(BertTokenizer bert, WordPieceDefinition definition, Dictionary<string, int> ids, TokenizerCommon common)
        : base(common)
    {
        _bert = bert;
        _definition = definition;
        _ids = ids;
    }

    /// <inheritdoc/>
    public override string Kind => "wordpiece";

    /// <inheritdoc/>
    public override int? BosId => RoleId("bos_token") ?? RoleId("cls_token");

    /// <inheritdoc/>
    public override int? EosId => RoleId("eos_token") ?? RoleId("sep_token");

    /// <inheritdoc/>
    protected override int OrdinaryVocabularySize => _definition.Tokens.Count;

    public static WordPieceTextTokenizer Create(WordPieceDefinition definition, TokenizerSettings settings, IReadOnlyDictionary<string, byte[]> files)
    {
        var ids = new Dictionary<string, int>(definition.Tokens.Count, StringComparer.Ordinal);
        for (var id = 0; id < definition.Tokens.Count; id++)
        {
            var token = definition.Tokens[id];
            if (token.Length == 0 || token.Contains('\n') || token.Contains('\r'))
            {
                throw new InvalidTokenizerException(definition.Source, $"token {id} is empty or spans lines.");
            }
            if (!ids.TryAdd(token, id))
            {
                throw new InvalidTokenizerException(definition.Source, $"token '{token}' appears twice (ids {ids[token]} and {id}).");
            }
        }
        var lookup = Lookup(definition.AddedTokens, ids);
        var defaults = new Dictionary<string, string>
        {
            ["unk_token"] = definition.UnknownToken,
            ["cls_token"] = "[CLS]",
            ["sep_token"] = "[SEP]",
            ["pad_token"] = "[PAD]",
            ["mask_token"] = "[MASK]",
        };
        var roles = SpecialTokenRoles.Resolve(settings, defaults, lookup, definition.AddedTokens, definition.Tokens.Count);
        var unk = roles["unk_token"] ?? throw new InvalidTokenizerException(definition.Source, $"the unknown token '{definition.UnknownToken}' is not in the vocabulary.");
        var cls = roles["cls_token"] ?? throw new InvalidTokenizerException(definition.Source, "the vocabulary has no classification token ([CLS]).");
        var sep = roles["sep_token"] ?? throw new InvalidTokenizerException(definition.Source, "the vocabulary has no separator token ([SEP]).");

        string TokenOf(int? id) => id is { } i && i < definition.Tokens.Count ? definition.Tokens[i] : definition.Tokens[unk];
        var options = new BertOptions
        {
            UnknownToken = TokenOf(unk),
            ContinuingSubwordPrefix = definition.ContinuingSubwordPrefix,
            MaxInputCharsPerWord = definition.MaxInputCharsPerWord,
            ClassificationToken = TokenOf(cls),
            SeparatorToken = TokenOf(sep),
            PaddingToken = TokenOf(roles["pad_token"]),
            MaskingToken = TokenOf(roles["mask_token"]),
            // Normalizing, pre-tokenizing and cutting out special tokens happen here, the HF way.
            ApplyBasicTokenization = false,
            LowerCaseBeforeTokenization = false,
            SplitOnSpecialTokens = false,
            PreTokenizer = new RegexPreTokenizer(SplitSequencePreTokenizer.Compile(BertPreTokenizerPattern), null),
        };
        BertTokenizer bert;
        try
        {
            using var vocabulary = new MemoryStream(Encoding.UTF8.GetBytes(string.Join("\n", definition.Tokens)));
            bert = BertTokenizer.Create(vocabulary, options);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or KeyNotFoundException)
        {
            throw new InvalidTokenizerException(definition.Source, $"Microsoft.ML.Tokenizers rejected the WordPiece vocabulary: {e.Message}", e);
        }
        var template = definition.Template ?? PostProcessTemplate.Encoder(cls, sep);
        return new WordPieceTextTokenizer(bert, definition, ids, new TokenizerCommon(definition.AddedTokens, roles, template, files));
    }

    /// <inheritdoc/>
    protected override void EncodeOrdinary(string text, List<int> ids) =>
        ids.AddRange(_bert.EncodeToIds(_definition.Normalizer.Normalize(text), addSpecialTokens: false, considerPreTokenization: true, considerNormalization: false));

    /// <summary>
    /// HF's WordPiece decoder: pieces joined by spaces, "##" continuations glued on, then the usual
    /// clean-up of spaces before punctuation and contractions.
    /// </summary>
    protected override string DecodeOrdinary(IReadOnlyList<int> ids)
    {
        var text = string.Join(" ", ids.Select(id => _definition.Tokens[id]))
            .Replace(" " + _definition.ContinuingSubwordPrefix, "", StringComparison.Ordinal);
        return CleanUpReplacements.Aggregate(text, (current, pair) => current.Replace(pair.From, pair.To, StringComparison.Ordinal));
    }

    private static readonly (string From, string To)[] CleanUpReplacements =
        [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")];

    /// <inheritdoc/>
    protected override string? OrdinaryIdToToken(int id) => id >= 0 && id < _definition.Tokens.Count ? _definition.Tokens[id] : null;

    /// <inheritdoc/>
    protected override int? OrdinaryTokenToId(string token) => _ids.TryGetValue(token, out var id) ? id : null;
}
