using System.Text.RegularExpressions;

namespace Microsoft.ML.Lora.Evaluation;

/// <summary>
/// The tokenisation of the E2E NLG Challenge's BLEU (e2e-metrics, which the LoRA paper's E2E scores come from): NIST
/// mteval-v13a's "basic" tokenisation as that project's Python port applies it. SGML entities are decoded, every ASCII
/// punctuation mark except apostrophe, hyphen, period and comma becomes a token, a period or comma is split off unless
/// it sits between digits, and a hyphen after a digit is split off. Case is kept here; <see cref="CorpusBleu"/>
/// compares case-insensitively as e2e-metrics does.
/// </summary>
public static partial class MtevalTokenizer
{
    /// <summary>The tokens of one sentence. An empty sentence is one empty token, as in the reference implementation.</summary>
    public static string[] Tokenize(string sentence)
    {
        ArgumentNullException.ThrowIfNull(sentence);
        var s = sentence.Replace("<skipped>", "", StringComparison.Ordinal)
            .Replace("-\n", "", StringComparison.Ordinal)
            .Replace("\n", " ", StringComparison.Ordinal)
            .Replace("&quot;", "\"", StringComparison.Ordinal)
            .Replace("&amp;", "&", StringComparison.Ordinal)
            .Replace("&lt;", "<", StringComparison.Ordinal)
            .Replace("&gt;", ">", StringComparison.Ordinal);
        s = " " + s + " ";
        s = Punctuation().Replace(s, " $1 ");
        s = PeriodOrCommaAfterNonDigit().Replace(s, "$1 $2 ");
        s = PeriodOrCommaBeforeNonDigit().Replace(s, " $1 $2");
        s = DashAfterDigit().Replace(s, "$1 $2 ");
        s = Whitespace().Replace(s, " ").Trim();
        return s.Split(' ');
    }

    // The ranges {-~, [-`, space-&, (-+, :-@ and / of mteval-v13a: ASCII punctuation but ' , - . (and digits, letters).
    [GeneratedRegex(@"([\{-\~\[-\` -\&\(-\+\:-\@\/])", RegexOptions.CultureInvariant)]
    private static partial Regex Punctuation();

    [GeneratedRegex(@"([^0-9])([\.,])", RegexOptions.CultureInvariant)]
    private static partial Regex PeriodOrCommaAfterNonDigit();

    [GeneratedRegex(@"([\.,])([^0-9])", RegexOptions.CultureInvariant)]
    private static partial Regex PeriodOrCommaBeforeNonDigit();

    [GeneratedRegex(@"([0-9])(-)", RegexOptions.CultureInvariant)]
    private static partial Regex DashAfterDigit();

    [GeneratedRegex(@"\s+", RegexOptions.CultureInvariant)]
    private static partial Regex Whitespace();
}
