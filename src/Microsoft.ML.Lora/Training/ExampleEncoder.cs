using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Training;

/// <summary>
/// Turns text rows into <see cref="TokenizedExample"/>s the same way at training and scoring time:
/// BOS when the model uses it, sentence pairs joined by <see cref="PairSeparator"/>, instruction rows as
/// prompt + <see cref="ResponseSeparator"/> + response + EOS (loss on the response only), and truncation to
/// <see cref="MaxLength"/> tokens from the chosen side.
/// </summary>
public sealed partial class ExampleEncoder(TextTokenizer tokenizer, int maxLength, bool truncateLeft)
{
    /// <summary>Text placed between the two texts of a sentence pair.</summary>
    public string PairSeparator { get; init; } = "\n";

    /// <summary>Text placed between prompt and response.</summary>
    public string ResponseSeparator { get; init; } = "\n";

    /// <summary>Longest sequence produced.</summary>
    public int MaxLength { get; } = maxLength > 1 ? maxLength : throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "The maximum sequence length must be at least 2.");

    /// <summary>Tokens for a classification/regression input.</summary>
    public TokenizedExample Encode(string text, string? text2 = null, float label = 0)
    {
        var ids = tokenizer.EncodeForModel(text2 is null ? text : text + PairSeparator + text2);
        return new TokenizedExample(Truncate(ids), label);
    }

    /// <summary>Tokens of a prompt ready for generation (prompt + separator).</summary>
    public int[] EncodePrompt(string prompt)
    {
        var ids = tokenizer.EncodeForModel(prompt + ResponseSeparator);
        return Truncate(ids, keepEnd: true);
    }

    /// <summary>Tokens for instruction tuning: loss starts at the first response token.</summary>
    public TokenizedExample EncodeInstruction(string prompt, string response)
    {
        var promptIds = tokenizer.EncodeForModel(prompt + ResponseSeparator);
        var responseIds = tokenizer.Encode(response).ToList();
        if (tokenizer.EosId is { } eos)
        {
            responseIds.Add(eos);
        }
        // Keep the whole response when possible: the prompt gives way first (from its start).
        int promptKeep = Math.Max(1, Math.Min(promptIds.Count, MaxLength - responseIds.Count));
        var ids = promptIds.Skip(promptIds.Count - promptKeep).Concat(responseIds).Take(MaxLength).ToArray();
        return new TokenizedExample(ids, 0, LossStart: promptKeep);
    }

    /// <summary>Tokens for plain language modelling: loss on every token after the first.</summary>
    public TokenizedExample EncodeText(string text)
    {
        var ids = tokenizer.EncodeForModel(text).ToList();
        if (tokenizer.EosId is { } eos)
        {
            ids.Add(eos);
        }
        return new TokenizedExample(Truncate(ids), 0, LossStart: 1);
    }

    private int[] Truncate(IReadOnlyList<int> ids, bool keepEnd = false)
    {
        if (ids.Count <= MaxLength)
        {
            return [.. ids];
        }
        return keepEnd || truncateLeft ? ids.Skip(ids.Count - MaxLength).ToArray() : ids.Take(MaxLength).ToArray();
    }
}
