using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// HF's pre-tokenizer Sequence of "isolated" splits: each regex cuts every piece the previous one
/// produced into its matches and the gaps between them, nothing dropped. This covers GPT-2's
/// ByteLevel regex, Qwen2's and Llama 3's Split patterns, and SmolLM's Digits. (Microsoft.ML.Tokenizers'
/// RegexPreTokenizer drops the text between matches and its CompositePreTokenizer mis-sizes gaps,
/// so neither fits a sequence of arbitrary patterns.)
/// </summary>
internal sealed class SplitSequencePreTokenizer(IReadOnlyList<Regex> patterns) : PreTokenizer
{
    /// <summary>GPT-2's ByteLevel pre-tokenizer pattern (HF ByteLevel with use_regex true).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Compiles a pattern the way tokenizers use it (culture-invariant, bounded run time).</summary>
    public static Regex Compile(string pattern) =>
        new(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, TimeSpan.FromSeconds(10));

    public IReadOnlyList<Regex> Patterns { get; } = patterns;

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Split(text ?? string.Empty);

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text.ToString());

    private List<(int Offset, int Length)> Split(string text)
    {
        var pieces = new List<(int Offset, int Length)>();
        if (text.Length > 0)
        {
            pieces.Add((0, text.Length));
        }
        foreach (var pattern in Patterns)
        {
            var next = new List<(int Offset, int Length)>(pieces.Count * 2);
            foreach (var (offset, length) in pieces)
            {
                var position = offset;
                // Each piece is matched on its own, so look-arounds see its ends as the text's ends, as in HF.
                foreach (var match in pattern.EnumerateMatches(text.AsSpan(offset, length)))
                {
                    if (match.Length == 0)
                    {
                        continue;
                    }
                    var start = offset + match.Index;
                    if (start > position)
                    {
                        next.Add((position, start - position));
                    }
                    next.Add((start, match.Length));
                    position = start + match.Length;
                }
                if (position < offset + length)
                {
                    next.Add((position, offset + length - position));
                }
            }
            pieces = next;
        }
        return pieces;
    }
}
