using System.Text;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>What every tokenizer read from Hugging Face files shares besides its model.</summary>
/// <param name="AddedTokens">Tokens matched whole in raw text.</param>
/// <param name="Roles">Special token ids by role and the ids decoding skips.</param>
/// <param name="Template">How a text or a pair is framed for the model.</param>
/// <param name="Files">The files that rebuild the tokenizer.</param>
internal sealed record TokenizerCommon(
    IReadOnlyList<AddedToken> AddedTokens,
    SpecialTokenRoles Roles,
    PostProcessTemplate Template,
    IReadOnlyDictionary<string, byte[]> Files);

/// <summary>
/// A tokenizer built from Hugging Face files onto a Microsoft.ML.Tokenizers model. This class does
/// what HF does around the model: it cuts added tokens out of the raw text first, skips special
/// tokens when decoding, and frames inputs with the post-processor's template. Subclasses encode and
/// decode the ordinary text between added tokens.
/// </summary>
internal abstract class HfTextTokenizer : TextTokenizer
{
    private readonly AddedTokenSplitter _splitter;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly Dictionary<string, AddedToken> _addedByContent;
    private readonly TokenizerCommon _common;

    protected HfTextTokenizer(TokenizerCommon common)
    {
        _common = common;
        var listed = common.AddedTokens.Select(t => t.Content).ToHashSet(StringComparer.Ordinal);
        _splitter = new AddedTokenSplitter(common.AddedTokens.Concat(common.Roles.Tokens.Where(t => !listed.Contains(t.Content))));
        _addedById = common.AddedTokens.GroupBy(t => t.Id).ToDictionary(g => g.Key, g => g.Last());
        _addedByContent = common.AddedTokens.GroupBy(t => t.Content, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
    }

    /// <summary>Appends the ids of ordinary text (no added tokens in it).</summary>
    protected abstract void EncodeOrdinary(string text, List<int> ids);

    /// <summary>Text for ids of the model's own vocabulary.</summary>
    protected abstract string DecodeOrdinary(IReadOnlyList<int> ids);

    /// <summary>The model vocabulary's token for an id, or null.</summary>
    protected abstract string? OrdinaryIdToToken(int id);

    /// <summary>The model vocabulary's id for a token, or null.</summary>
    protected abstract int? OrdinaryTokenToId(string token);

    /// <summary>One more than the largest id of the model's own vocabulary.</summary>
    protected abstract int OrdinaryVocabularySize { get; }

    /// <summary>A role's id ("cls_token" → [CLS]'s id), or null.</summary>
    internal int? RoleId(string role) => _common.Roles[role];

    internal PostProcessTemplate Template => _common.Template;

    /// <inheritdoc/>
    public override IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        foreach (var (piece, token) in _splitter.Split(text))
        {
            if (token is not null)
            {
                ids.Add(token.Id);
            }
            else
            {
                EncodeOrdinary(piece, ids);
            }
        }
        return ids;
    }

    /// <inheritdoc/>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        var run = new List<int>();
        foreach (var id in ids)
        {
            if (IdToToken(id) is null)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is not in the vocabulary (size {VocabularySize}).");
            }
            if (_common.Roles.SkippedWhenDecoding.Contains(id))
            {
                continue;
            }
            if (OrdinaryIdToToken(id) is null && _addedById.TryGetValue(id, out var added))
            {
                // An added token outside the model's vocabulary decodes to its literal text.
                Flush();
                text.Append(added.Content);
                continue;
            }
            run.Add(id);
        }
        Flush();
        return text.ToString();

        void Flush()
        {
            if (run.Count > 0)
            {
                text.Append(DecodeOrdinary(run));
                run.Clear();
            }
        }
    }

    /// <inheritdoc/>
    public override string? IdToToken(int id) =>
        _addedById.TryGetValue(id, out var added) ? added.Content : OrdinaryIdToToken(id);

    /// <inheritdoc/>
    public override int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _addedByContent.TryGetValue(token, out var added) ? added.Id : OrdinaryTokenToId(token);
    }

    /// <inheritdoc/>
    public override bool IsSpecial(int id) => _common.Roles.SkippedWhenDecoding.Contains(id);

    /// <inheritdoc/>
    public override int? BosId => _common.Roles["bos_token"];

    /// <inheritdoc/>
    public override int? EosId => _common.Roles["eos_token"];

    /// <inheritdoc/>
    public override int PadId => _common.Roles["pad_token"] ?? base.PadId;

    /// <inheritdoc/>
    public override int? UnkId => _common.Roles["unk_token"];

    /// <inheritdoc/>
    public override bool AddBos => BosId is { } bos && _common.Template.LeadingSpecialId == bos;

    /// <inheritdoc/>
    public override int VocabularySize =>
        Math.Max(OrdinaryVocabularySize, _common.AddedTokens.Count == 0 ? 0 : _common.AddedTokens.Max(t => t.Id) + 1);

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, byte[]> Files => _common.Files;

    /// <inheritdoc/>
    public override EncodedInput EncodePairForModel(string first, string second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        return _common.Template.FramePair(Encode(first), Encode(second));
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<int> WrapForModel(IReadOnlyList<int> ids) => _common.Template.FrameSingle(ids);

    /// <summary>Looks a token up among the added tokens, then in a model vocabulary (for resolving roles before construction).</summary>
    internal static Func<string, int?> Lookup(IEnumerable<AddedToken> addedTokens, IReadOnlyDictionary<string, int> vocabulary)
    {
        var added = addedTokens.GroupBy(t => t.Content, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last().Id, StringComparer.Ordinal);
        return token => added.TryGetValue(token, out var id) ? id : vocabulary.TryGetValue(token, out var vocabId) ? vocabId : null;
    }
}
