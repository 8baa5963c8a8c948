using System.Text;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// Unicode normalization as tokenizers need it. .NET normalizes through ICU; a process running with
/// InvariantGlobalization silently returns text unnormalized, which would give wrong token ids, so
/// non-ASCII text fails loudly there instead (ASCII is unchanged by every normalization form).
/// </summary>
internal static class UnicodeNormalization
{
    private static readonly Lazy<bool> Available = new(() => "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9");

    /// <summary>Whether this process can normalize Unicode (false under InvariantGlobalization).</summary>
    public static bool IsAvailable => Available.Value;

    public static string Normalize(string text, NormalizationForm form)
    {
        if (Ascii.IsValid(text))
        {
            return text;
        }
        if (!IsAvailable)
        {
            throw new PlatformNotSupportedException(
                $"This tokenizer needs Unicode normalization ({form}) for non-ASCII text, but the process runs with " +
                "InvariantGlobalization, where .NET does not normalize. Set <InvariantGlobalization>false</InvariantGlobalization> " +
                "in the application's project (ICU must be installed).");
        }
        return text.Normalize(form);
    }

    /// <summary>The HF normalizer name for a form ("NFC" → FormC), or null for a name that is not one.</summary>
    public static NormalizationForm? FormOf(string? name) => name switch
    {
        "NFC" => NormalizationForm.FormC,
        "NFD" => NormalizationForm.FormD,
        "NFKC" => NormalizationForm.FormKC,
        "NFKD" => NormalizationForm.FormKD,
        _ => null,
    };
}
