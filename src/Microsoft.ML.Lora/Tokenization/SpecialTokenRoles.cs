namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// The ids of the special roles (bos, eos, pad, unk, cls, sep, mask) and which ids decoding skips:
/// special added tokens and roles named by tokenizer files; ids taken only from config.json are
/// model settings and stay ordinary tokens.
/// </summary>
internal sealed class SpecialTokenRoles
{
    private readonly Dictionary<string, int> _ids;

    private SpecialTokenRoles(Dictionary<string, int> ids, HashSet<int> skipped, List<AddedToken> tokens)
    {
        _ids = ids;
        SkippedWhenDecoding = skipped;
        Tokens = tokens;
    }

    public IReadOnlySet<int> SkippedWhenDecoding { get; }

    /// <summary>
    /// The role tokens the tokenizer files or defaults name, as special added tokens: transformers never
    /// splits them, so "[SEP]" in text is one token even when only vocab.txt lists it.
    /// </summary>
    public IReadOnlyList<AddedToken> Tokens { get; }

    public int? this[string role] => _ids.TryGetValue(role, out var id) ? id : null;

    /// <summary>
    /// Resolves each role from the tokenizer files, then the tokenizer kind's default token, then the
    /// model config's id. A token a file names must exist; a config id must be inside the vocabulary.
    /// </summary>
    public static SpecialTokenRoles Resolve(
        TokenizerSettings settings,
        IReadOnlyDictionary<string, string> defaults,
        Func<string, int?> lookup,
        IEnumerable<AddedToken> addedTokens,
        int vocabularySize)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var skipped = addedTokens.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        var tokens = new List<AddedToken>();
        foreach (var role in TokenizerSettings.Roles)
        {
            if (settings.Token(role) is { } named)
            {
                ids[role] = lookup(named.Value)
                    ?? throw new InvalidTokenizerException(named.Source, $"{role} '{named.Value}' is not in the vocabulary.");
                skipped.Add(ids[role]);
                tokens.Add(new AddedToken(named.Value, ids[role], Special: true));
            }
            else if (defaults.TryGetValue(role, out var token) && lookup(token) is { } id)
            {
                ids[role] = id;
                skipped.Add(id);
                tokens.Add(new AddedToken(token, id, Special: true));
            }
            else if (settings.ModelId(role) is { } configured)
            {
                if (configured.Value < 0 || configured.Value >= vocabularySize)
                {
                    throw new InvalidTokenizerException(configured.Source, $"{role}_id {configured.Value} is outside the vocabulary (size {vocabularySize}).");
                }
                ids[role] = configured.Value;
            }
        }
        return new SpecialTokenRoles(ids, skipped, tokens);
    }
}
