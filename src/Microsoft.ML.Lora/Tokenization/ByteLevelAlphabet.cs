using System.Text;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// GPT-2's byte-to-character table (bytes_to_unicode): printable bytes stand for themselves, the
/// others are shifted to U+0100 and up, so that every byte string is a visible token string
/// (a space becomes 'Ġ').
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] CharOfByte = BuildTable();

    private static char[] BuildTable()
    {
        var table = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    /// <summary>The token string of a text's UTF-8 bytes ("hello world" → "helloĠworld").</summary>
    public static string Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var chars = new char[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            chars[i] = CharOfByte[bytes[i]];
        }
        return new string(chars);
    }
}
