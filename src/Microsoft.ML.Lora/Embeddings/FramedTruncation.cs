using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Embeddings;

/// <summary>
/// Truncation as HF tokenizers do it for a single text: the text's tokens are cut so that the framed input
/// ([CLS] text [SEP] for BERT) fits, keeping the frame.
/// </summary>
internal static class FramedTruncation
{
    public static int[] Encode(TextTokenizer tokenizer, string text, int maxLength)
    {
        var framed = tokenizer.EncodeForModel(text);
        if (framed.Count <= maxLength)
        {
            return [.. framed];
        }
        var raw = tokenizer.Encode(text);
        int prefix = PrefixLength(framed, raw);
        int suffix = framed.Count - prefix - raw.Count;
        int keep = Math.Max(0, maxLength - prefix - suffix);
        return [.. framed.Take(prefix), .. raw.Take(keep), .. framed.Skip(prefix + raw.Count)];
    }

    // The frame adds tokens before and after the text's own: find where the text starts.
    private static int PrefixLength(IReadOnlyList<int> framed, IReadOnlyList<int> raw)
    {
        for (int p = 0; p + raw.Count <= framed.Count; p++)
        {
            bool match = true;
            for (int i = 0; i < raw.Count && match; i++)
            {
                match = framed[p + i] == raw[i];
            }
            if (match)
            {
                return p;
            }
        }
        return 0;
    }
}
