using System.Collections;
using System.Globalization;

namespace Microsoft.ML.Lora.Tokenization.Chat.Jinja;

/// <summary>The filters, tests and string/dict methods chat templates call, with Jinja/Python behaviour.</summary>
internal static class JinjaBuiltins
{
    public static object? Filter(string name, object? value, IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> named, Func<object?, object?, object?> getAttribute)
    {
        object? Arg(int i, string key, object? fallback = null) => i < args.Count ? args[i] : named.TryGetValue(key, out var v) ? v : fallback;
        switch (name)
        {
            case "length" or "count":
                return (long)JinjaValues.Length(value);
            case "trim":
                return Text(value).Trim();
            case "upper":
                return Text(value).ToUpperInvariant();
            case "lower":
                return Text(value).ToLowerInvariant();
            case "capitalize":
                var s = Text(value);
                return s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();
            case "title":
                return CultureInfo.InvariantCulture.TextInfo.ToTitleCase(Text(value).ToLowerInvariant());
            case "string":
                return JinjaValues.ToText(value);
            case "safe":
                return value;
            case "int":
                return value switch
                {
                    long l => l,
                    double d => (long)Math.Truncate(d),
                    bool b => b ? 1L : 0L,
                    string t when long.TryParse(t.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
                    _ => Arg(0, "default", 0L),
                };
            case "float":
                return value switch
                {
                    long or double or bool => JinjaValues.ToDouble(value),
                    string t when double.TryParse(t.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
                    _ => Arg(0, "default", 0.0),
                };
            case "abs":
                return value is long l2 ? (object)Math.Abs(l2) : Math.Abs(JinjaValues.ToDouble(value));
            case "first":
                return JinjaValues.Iterate(value) is { Count: > 0 } first ? first[0] : Undefined.Instance;
            case "last":
                return JinjaValues.Iterate(value) is { Count: > 0 } last ? last[^1] : Undefined.Instance;
            case "reverse":
                return value is string r ? string.Concat(JinjaValues.StringElements(r).AsEnumerable().Reverse()) : JinjaValues.Iterate(value).AsEnumerable().Reverse().ToList();
            case "list":
                return JinjaValues.Iterate(value);
            case "join":
                var attribute = Arg(1, "attribute");
                var items = JinjaValues.Iterate(value).Select(v => attribute is null ? v : getAttribute(v, attribute));
                return string.Join(Text(Arg(0, "d", "")), items.Select(JinjaValues.ToText));
            case "default" or "d":
                bool boolean = JinjaValues.IsTrue(Arg(1, "boolean", false));
                return value is Undefined || (boolean && !JinjaValues.IsTrue(value)) ? Arg(0, "default_value", "") : value;
            case "replace":
                var count = Arg(2, "count");
                var old = Text(Arg(0, "old"));
                var replacement = Text(Arg(1, "new"));
                return count is long n ? ReplaceFirst(Text(value), old, replacement, n) : Text(value).Replace(old, replacement, StringComparison.Ordinal);
            case "tojson":
                return JinjaValues.ToJson(value, Arg(0, "indent") is long indent ? (int)indent : null);
            case "items":
                return Items(value);
            case "dictsort":
                return Items(value).OrderBy(kv => (string)((List<object?>)kv!)[0]!, StringComparer.OrdinalIgnoreCase).ToList();
            case "unique":
                var unique = new List<object?>();
                foreach (var item in JinjaValues.Iterate(value).Where(item => !unique.Any(u => JinjaValues.Equals(u, item))))
                {
                    unique.Add(item);
                }
                return unique;
            case "map":
                if (named.TryGetValue("attribute", out var mapped) && mapped is not null)
                {
                    return JinjaValues.Iterate(value).Select(v => getAttribute(v, mapped)).ToList();
                }
                var filterName = Text(Arg(0, "filter"));
                return JinjaValues.Iterate(value).Select(v => Filter(filterName, v, args.Skip(1).ToList(), new Dictionary<string, object?>(), getAttribute)).ToList();
            case "selectattr" or "rejectattr":
                var key = Arg(0, "attribute");
                bool keep = name == "selectattr";
                return JinjaValues.Iterate(value).Where(v =>
                {
                    var attributeValue = getAttribute(v, key);
                    bool passes = args.Count > 1 ? Test(Text(args[1]), attributeValue, args.Skip(2).ToList()) : JinjaValues.IsTrue(attributeValue);
                    return passes == keep;
                }).ToList();
            case "select" or "reject":
                bool selects = name == "select";
                return JinjaValues.Iterate(value).Where(v => (args.Count > 0 ? Test(Text(args[0]), v, args.Skip(1).ToList()) : JinjaValues.IsTrue(v)) == selects).ToList();
            case "indent":
                var width = Arg(0, "width", 4L) is long w ? (int)w : 4;
                var pad = new string(' ', width);
                var lines = Text(value).Split('\n');
                bool first2 = JinjaValues.IsTrue(Arg(1, "first", false));
                return string.Join("\n", lines.Select((line, i) => (i > 0 || first2) && line.Length > 0 ? pad + line : line));
            default:
                throw new ChatTemplateException($"the filter '{name}' is outside the Jinja subset chat templates are rendered with.");
        }
    }

    public static bool Test(string name, object? value, IReadOnlyList<object?> args) => name switch
    {
        "defined" => value is not Undefined,
        "undefined" => value is Undefined,
        "none" => value is null,
        "string" => value is string,
        "number" => value is long or double,
        "integer" => value is long,
        "float" => value is double,
        "boolean" => value is bool,
        "true" => value is true,
        "false" => value is false,
        "mapping" => value is OrderedDictionary<string, object?> or JinjaNamespace,
        "iterable" => value is string or IList or OrderedDictionary<string, object?>,
        "sequence" => value is string or IList,
        "callable" => value is JinjaCallable,
        "odd" => value is long o && o % 2 != 0,
        "even" => value is long e && e % 2 == 0,
        "divisibleby" => value is long a && args is [long b, ..] && b != 0 && a % b == 0,
        "eq" or "equalto" or "==" => args.Count > 0 && JinjaValues.Equals(value, args[0]),
        "ne" or "!=" => args.Count > 0 && !JinjaValues.Equals(value, args[0]),
        "lower" => value is string l && l == l.ToLowerInvariant(),
        "upper" => value is string u && u == u.ToUpperInvariant(),
        "in" => args.Count > 0 && JinjaRenderer.Contains(args[0], value),
        _ => throw new ChatTemplateException($"the test '{name}' is outside the Jinja subset chat templates are rendered with."),
    };

    /// <summary>Methods of strings and dicts that templates call (<c>content.strip()</c>, <c>message.get('x')</c>).</summary>
    public static JinjaCallable? Method(object? target, string name)
    {
        switch (target)
        {
            case string s:
                return name switch
                {
                    "strip" => (a, _) => Strip(s, a, start: true, end: true),
                    "lstrip" => (a, _) => Strip(s, a, start: true, end: false),
                    "rstrip" => (a, _) => Strip(s, a, start: false, end: true),
                    "upper" => (_, _) => s.ToUpperInvariant(),
                    "lower" => (_, _) => s.ToLowerInvariant(),
                    "title" => (_, _) => CultureInfo.InvariantCulture.TextInfo.ToTitleCase(s.ToLowerInvariant()),
                    "capitalize" => (_, _) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(),
                    "startswith" => (a, _) => Prefixes(a).Any(p => s.StartsWith(p, StringComparison.Ordinal)),
                    "endswith" => (a, _) => Prefixes(a).Any(p => s.EndsWith(p, StringComparison.Ordinal)),
                    "split" => (a, _) => Split(s, a),
                    "replace" => (a, _) => a.Count > 2 && a[2] is long n ? ReplaceFirst(s, Text(a[0]), Text(a[1]), n) : s.Replace(Text(a[0]), Text(a[1]), StringComparison.Ordinal),
                    "find" => (a, _) => (long)s.IndexOf(Text(a[0]), StringComparison.Ordinal),
                    "count" => (a, _) => (long)(Text(a[0]).Length == 0 ? s.Length + 1 : (s.Length - s.Replace(Text(a[0]), "", StringComparison.Ordinal).Length) / Text(a[0]).Length),
                    "join" => (a, _) => string.Join(s, JinjaValues.Iterate(a[0]).Select(JinjaValues.ToText)),
                    "isdigit" => (_, _) => s.Length > 0 && s.All(char.IsDigit),
                    "isspace" => (_, _) => s.Length > 0 && s.All(char.IsWhiteSpace),
                    _ => null,
                };
            case OrderedDictionary<string, object?> dict:
                return name switch
                {
                    "get" => (a, _) => a.Count > 0 && a[0] is string key && dict.TryGetValue(key, out var v) ? v : a.Count > 1 ? a[1] : null,
                    "items" => (_, _) => Items(dict),
                    "keys" => (_, _) => dict.Keys.Cast<object?>().ToList(),
                    "values" => (_, _) => dict.Values.ToList(),
                    _ => null,
                };
            default:
                return null;
        }
    }

    private static string Text(object? value) => value is string s ? s : JinjaValues.ToText(value);

    private static List<string> Prefixes(IReadOnlyList<object?> args) => args.Count > 0 && args[0] is IList list ? list.Cast<object?>().Select(Text).ToList() : [Text(args.Count > 0 ? args[0] : "")];

    private static string Strip(string s, IReadOnlyList<object?> args, bool start, bool end)
    {
        if (args.Count == 0 || args[0] is null)
        {
            return start && end ? s.Trim() : start ? s.TrimStart() : s.TrimEnd();
        }
        var chars = Text(args[0]).ToCharArray();
        return start && end ? s.Trim(chars) : start ? s.TrimStart(chars) : s.TrimEnd(chars);
    }

    private static List<object?> Split(string s, IReadOnlyList<object?> args)
    {
        long max = args.Count > 1 && args[1] is long m ? m : -1;
        if (args.Count == 0 || args[0] is null)
        {
            var words = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return words.Cast<object?>().ToList();
        }
        var separator = Text(args[0]);
        if (separator.Length == 0)
        {
            throw new ChatTemplateException("split() got an empty separator.");
        }
        var parts = max >= 0 ? s.Split(separator, (int)Math.Min(int.MaxValue, max + 1), StringSplitOptions.None) : s.Split(separator, StringSplitOptions.None);
        return parts.Cast<object?>().ToList();
    }

    private static string ReplaceFirst(string s, string old, string replacement, long count)
    {
        var result = s;
        int from = 0;
        for (long k = 0; k < count; k++)
        {
            int at = result.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }
            result = result[..at] + replacement + result[(at + old.Length)..];
            from = at + replacement.Length;
        }
        return result;
    }

    private static List<object?> Items(object? value) => value switch
    {
        OrderedDictionary<string, object?> dict => dict.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
        JinjaNamespace ns => Items(ns.Values),
        _ => throw new ChatTemplateException($"{JinjaValues.TypeName(value)} has no items."),
    };
}
