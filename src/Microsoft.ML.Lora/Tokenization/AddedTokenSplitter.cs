using System.Text.RegularExpressions;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// Cuts raw text at added tokens, as HF tokenizers do before normalizing: the leftmost match wins
/// and, among tokens starting there, the longest. The pieces between them are ordinary text.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private readonly Regex? _pattern;
    private readonly Dictionary<string, AddedToken> _byContent;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (var token in tokens.Where(t => t.Content.Length > 0))
        {
            _byContent[token.Content] = token;
        }
        if (_byContent.Count > 0)
        {
            // Longest first, so that at one position "<|im_start|>" beats a shorter token that is its prefix.
            var alternatives = _byContent.Keys.OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).Select(Regex.Escape);
            _pattern = new Regex(string.Join("|", alternatives), RegexOptions.CultureInvariant);
        }
    }

    /// <summary>The text as ordinary pieces (Token null) and added tokens, in order; empty pieces are dropped.</summary>
    public List<(string Text, AddedToken? Token)> Split(string text)
    {
        var pieces = new List<(string Text, AddedToken? Token)>();
        var start = 0;
        if (_pattern is not null)
        {
            foreach (var match in _pattern.EnumerateMatches(text))
            {
                if (match.Index < start)
                {
                    continue; // inside whitespace that an rstrip token already swallowed
                }
                var token = _byContent[text.Substring(match.Index, match.Length)];
                var left = match.Index;
                while (token.LStrip && left > start && char.IsWhiteSpace(text[left - 1]))
                {
                    left--;
                }
                if (left > start)
                {
                    pieces.Add((text[start..left], null));
                }
                pieces.Add((token.Content, token));
                start = match.Index + match.Length;
                while (token.RStrip && start < text.Length && char.IsWhiteSpace(text[start]))
                {
                    start++;
                }
            }
        }
        if (start < text.Length)
        {
            pieces.Add((text[start..], null));
        }
        return pieces;
    }
}
