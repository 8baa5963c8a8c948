namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// Turns tokens arriving one at a time into text pieces that concatenate to the decoded whole: a piece is released only
/// once it is stable — not an incomplete UTF-8 character (U+FFFD at the end), and not text that could still become one of
/// the stop strings (generation cuts the text before those). <see cref="Finish"/> releases the rest.
/// </summary>
public sealed class IncrementalDecoder(TextTokenizer tokenizer, IReadOnlyList<string>? stopStrings = null)
{
    private readonly List<int> _ids = [];
    private readonly IReadOnlyList<string> _stops = stopStrings ?? [];
    private string _released = "";

    /// <summary>The text released so far.</summary>
    public string Released => _released;

    /// <summary>Adds a token; returns the text that became stable (possibly empty).</summary>
    public string Push(int id)
    {
        _ids.Add(id);
        var text = tokenizer.Decode(_ids);
        foreach (var stop in _stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0)
            {
                text = text[..at];
            }
        }
        int stable = text.Length;
        while (stable > 0 && text[stable - 1] == '\uFFFD')
        {
            stable--;
        }
        stable -= HeldBack(text.AsSpan(0, stable));
        return Release(text[..stable]);
    }

    /// <summary>The rest of <paramref name="finalText"/> (the generator's decoded result) after what was released.</summary>
    public string Finish(string finalText) => Release(finalText);

    private string Release(string text)
    {
        if (text.Length <= _released.Length || !text.StartsWith(_released, StringComparison.Ordinal))
        {
            return "";
        }
        var piece = text[_released.Length..];
        _released = text;
        return piece;
    }

    /// <summary>The longest end of the text that begins a stop string (it may still complete it).</summary>
    private int HeldBack(ReadOnlySpan<char> text)
    {
        int held = 0;
        foreach (var stop in _stops)
        {
            for (int k = Math.Min(stop.Length - 1, text.Length); k > held; k--)
            {
                if (text.EndsWith(stop.AsSpan(0, k), StringComparison.Ordinal))
                {
                    held = k;
                    break;
                }
            }
        }
        return held;
    }
}
