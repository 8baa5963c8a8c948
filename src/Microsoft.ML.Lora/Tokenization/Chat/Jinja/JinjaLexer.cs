using System.Globalization;
using System.Text;

namespace Microsoft.ML.Lora.Tokenization.Chat.Jinja;

internal enum TokenKind
{
    Text,
    OutputStart,
    StatementStart,
    TagEnd,
    Name,
    String,
    Integer,
    Float,
    Symbol,
    End,
}

internal readonly record struct JinjaToken(TokenKind Kind, string Value, int Line);

/// <summary>
/// Splits a template into text and tag tokens with the whitespace rules transformers renders chat templates with:
/// <c>trim_blocks</c> (a newline right after a block tag goes), <c>lstrip_blocks</c> (spaces and tabs before a block
/// tag on its line go), and the <c>-</c> markers that strip all whitespace on one side of a tag.
/// </summary>
internal static class JinjaLexer
{
    private static readonly string[] Symbols = ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"];

    public static List<JinjaToken> Tokenize(string source)
    {
        var tokens = new List<JinjaToken>();
        int i = 0, line = 1;
        bool trimNextNewline = false, stripNextWhitespace = false;
        while (i < source.Length)
        {
            int open = FindTagStart(source, i);
            var text = source[i..(open < 0 ? source.Length : open)];
            if (stripNextWhitespace)
            {
                text = text.TrimStart();
            }
            else if (trimNextNewline && text.StartsWith('\n'))
            {
                text = text[1..];
            }
            else if (trimNextNewline && text.StartsWith("\r\n", StringComparison.Ordinal))
            {
                text = text[2..];
            }
            if (open < 0)
            {
                AddText(tokens, text, line);
                break;
            }
            char kind = source[open + 1];
            bool stripBefore = open + 2 < source.Length && source[open + 2] == '-';
            bool keepIndent = open + 2 < source.Length && source[open + 2] == '+';
            if (stripBefore)
            {
                text = text.TrimEnd();
            }
            else if (kind != '{' && !keepIndent)
            {
                text = StripIndentBeforeTag(text, source, open);
            }
            AddText(tokens, text, line);
            line += Count(source, i, open, '\n');
            int contentStart = open + 2 + (stripBefore || keepIndent ? 1 : 0);
            if (kind == '#')
            {
                int close = source.IndexOf("#}", contentStart, StringComparison.Ordinal);
                if (close < 0)
                {
                    throw new ChatTemplateException($"line {line}: a comment is not closed with '#}}'.");
                }
                stripNextWhitespace = source[close - 1] == '-';
                trimNextNewline = true;
                line += Count(source, open, close, '\n');
                i = close + 2;
                continue;
            }
            if (kind == '%' && IsRawStart(source, contentStart, out int rawBodyStart))
            {
                i = ReadRaw(source, rawBodyStart, tokens, ref line);
                trimNextNewline = true;
                stripNextWhitespace = false;
                continue;
            }
            tokens.Add(new JinjaToken(kind == '{' ? TokenKind.OutputStart : TokenKind.StatementStart, "", line));
            i = ReadTag(source, contentStart, kind == '{' ? '}' : '%', tokens, ref line, out stripNextWhitespace);
            trimNextNewline = kind == '%';
        }
        tokens.Add(new JinjaToken(TokenKind.End, "", line));
        return tokens;
    }

    private static int FindTagStart(string source, int from)
    {
        for (int i = source.IndexOf('{', from); i >= 0 && i + 1 < source.Length; i = source.IndexOf('{', i + 1))
        {
            if (source[i + 1] is '{' or '%' or '#')
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>lstrip_blocks: spaces/tabs between the line start and a block tag are dropped.</summary>
    private static string StripIndentBeforeTag(string text, string source, int tagStart)
    {
        int k = tagStart;
        while (k > 0 && source[k - 1] is ' ' or '\t')
        {
            k--;
        }
        bool atLineStart = k == 0 || source[k - 1] == '\n';
        return atLineStart ? text[..Math.Max(0, text.Length - (tagStart - k))] : text;
    }

    private static void AddText(List<JinjaToken> tokens, string text, int line)
    {
        if (text.Length > 0)
        {
            tokens.Add(new JinjaToken(TokenKind.Text, text, line));
        }
    }

    private static int Count(string s, int from, int to, char c)
    {
        int n = 0;
        for (int k = from; k < to; k++)
        {
            n += s[k] == c ? 1 : 0;
        }
        return n;
    }

    private static bool IsRawStart(string source, int at, out int bodyStart)
    {
        bodyStart = 0;
        int j = SkipSpaces(source, at);
        if (string.CompareOrdinal(source, j, "raw", 0, 3) != 0)
        {
            return false;
        }
        j = SkipSpaces(source, j + 3);
        if (j < source.Length && source[j] == '-')
        {
            j++;
        }
        if (string.CompareOrdinal(source, j, "%}", 0, 2) != 0)
        {
            return false;
        }
        bodyStart = j + 2;
        return true;
    }

    private static int ReadRaw(string source, int bodyStart, List<JinjaToken> tokens, ref int line)
    {
        for (int k = source.IndexOf("{%", bodyStart, StringComparison.Ordinal); k >= 0; k = source.IndexOf("{%", k + 2, StringComparison.Ordinal))
        {
            int j = SkipSpaces(source, k + 2 + (k + 2 < source.Length && source[k + 2] == '-' ? 1 : 0));
            if (string.CompareOrdinal(source, j, "endraw", 0, 6) == 0)
            {
                int close = source.IndexOf("%}", j, StringComparison.Ordinal);
                AddText(tokens, source[bodyStart..k], line);
                line += Count(source, bodyStart, k, '\n');
                return close + 2;
            }
        }
        throw new ChatTemplateException($"line {line}: '{{% raw %}}' is not closed with '{{% endraw %}}'.");
    }

    private static int SkipSpaces(string s, int i)
    {
        while (i < s.Length && char.IsWhiteSpace(s[i]))
        {
            i++;
        }
        return i;
    }

    private static int ReadTag(string s, int i, char closer, List<JinjaToken> tokens, ref int line, out bool stripAfter)
    {
        while (true)
        {
            while (i < s.Length && char.IsWhiteSpace(s[i]))
            {
                line += s[i] == '\n' ? 1 : 0;
                i++;
            }
            if (i >= s.Length)
            {
                throw new ChatTemplateException($"line {line}: a tag is not closed.");
            }
            bool minus = s[i] == '-' && i + 2 < s.Length && s[i + 1] == closer && s[i + 2] == '}';
            if ((s[i] == closer && i + 1 < s.Length && s[i + 1] == '}') || minus)
            {
                stripAfter = minus;
                tokens.Add(new JinjaToken(TokenKind.TagEnd, "", line));
                return i + (minus ? 3 : 2);
            }
            char c = s[i];
            if (char.IsLetter(c) || c == '_')
            {
                int start = i;
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_'))
                {
                    i++;
                }
                tokens.Add(new JinjaToken(TokenKind.Name, s[start..i], line));
            }
            else if (char.IsDigit(c))
            {
                i = ReadNumber(s, i, tokens, line);
            }
            else if (c is '\'' or '"')
            {
                i = ReadString(s, i, tokens, ref line);
            }
            else
            {
                var symbol = Symbols.FirstOrDefault(sym => string.CompareOrdinal(s, i, sym, 0, sym.Length) == 0)
                    ?? throw new ChatTemplateException($"line {line}: unexpected character '{c}' in a tag.");
                tokens.Add(new JinjaToken(TokenKind.Symbol, symbol, line));
                i += symbol.Length;
            }
        }
    }

    private static int ReadNumber(string s, int i, List<JinjaToken> tokens, int line)
    {
        int start = i;
        while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '_'))
        {
            i++;
        }
        bool isFloat = i + 1 < s.Length && s[i] == '.' && char.IsDigit(s[i + 1]);
        if (isFloat)
        {
            i++;
            while (i < s.Length && char.IsDigit(s[i]))
            {
                i++;
            }
        }
        var text = s[start..i].Replace("_", "", StringComparison.Ordinal);
        tokens.Add(new JinjaToken(isFloat ? TokenKind.Float : TokenKind.Integer, text, line));
        _ = double.Parse(text, CultureInfo.InvariantCulture);
        return i;
    }

    private static int ReadString(string s, int i, List<JinjaToken> tokens, ref int line)
    {
        char quote = s[i++];
        var value = new StringBuilder();
        while (i < s.Length && s[i] != quote)
        {
            char c = s[i++];
            line += c == '\n' ? 1 : 0;
            if (c != '\\' || i >= s.Length)
            {
                value.Append(c);
                continue;
            }
            char e = s[i++];
            switch (e)
            {
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case 'u' when i + 4 <= s.Length:
                    value.Append((char)int.Parse(s.AsSpan(i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                case 'x' when i + 2 <= s.Length:
                    value.Append((char)int.Parse(s.AsSpan(i, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 2;
                    break;
                default: value.Append('\\').Append(e); break;
            }
        }
        if (i >= s.Length)
        {
            throw new ChatTemplateException($"line {line}: a string literal is not closed.");
        }
        tokens.Add(new JinjaToken(TokenKind.String, value.ToString(), line));
        return i + 1;
    }
}
