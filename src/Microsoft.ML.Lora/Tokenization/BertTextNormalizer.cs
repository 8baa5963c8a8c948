using System.Globalization;
using System.Text;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// HF's BertNormalizer, step for step: clean text (drop NUL, U+FFFD and other-category characters,
/// turn whitespace into spaces), space out CJK ideographs, strip accents (NFD, drop non-spacing
/// marks), lower-case. Microsoft.ML.Tokenizers' own BertNormalizer drops tabs and newlines instead
/// of spacing them and recomposes to NFC afterwards, which changes ids (Korean, for one).
/// </summary>
internal sealed record BertTextNormalizer(bool CleanText, bool HandleChineseChars, bool StripAccents, bool Lowercase)
{
    public string Normalize(string text)
    {
        var result = new StringBuilder(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
        {
            if (CleanText && IsRemovedByCleaning(rune))
            {
                continue;
            }
            if (CleanText && Rune.IsWhiteSpace(rune))
            {
                result.Append(' ');
            }
            else if (HandleChineseChars && IsCjkIdeograph(rune.Value))
            {
                result.Append(' ').Append(rune.ToString()).Append(' ');
            }
            else
            {
                result.Append(rune.ToString());
            }
        }
        var normalized = result.ToString();
        if (StripAccents)
        {
            normalized = RemoveNonSpacingMarks(UnicodeNormalization.Normalize(normalized, NormalizationForm.FormD));
        }
        return Lowercase ? normalized.ToLowerInvariant() : normalized;
    }

    private static bool IsRemovedByCleaning(Rune rune)
    {
        if (rune.Value is 0 or 0xFFFD)
        {
            return true;
        }
        if (rune.Value is '\t' or '\n' or '\r')
        {
            return false;
        }
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate or UnicodeCategory.OtherNotAssigned;
    }

    private static string RemoveNonSpacingMarks(string text)
    {
        var result = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark)
            {
                result.Append(rune.ToString());
            }
        }
        return result.ToString();
    }

    /// <summary>The CJK Unified Ideographs blocks HF's BERT spaces out (not Hiragana, Katakana or Hangul).</summary>
    private static bool IsCjkIdeograph(int c) =>
        c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);
}
