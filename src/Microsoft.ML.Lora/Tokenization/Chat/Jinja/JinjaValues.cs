using System.Collections;
using System.Globalization;
using System.Text;

namespace Microsoft.ML.Lora.Tokenization.Chat.Jinja;

/// <summary>A missing variable or attribute: renders as nothing, is false, and passes <c>is undefined</c>.</summary>
internal sealed class Undefined
{
    public static readonly Undefined Instance = new();

    private Undefined()
    {
    }

    public override string ToString() => "";
}

/// <summary><c>namespace(...)</c>: an object whose attributes <c>{% set ns.x = v %}</c> may change inside loops.</summary>
internal sealed class JinjaNamespace(OrderedDictionary<string, object?> values)
{
    public OrderedDictionary<string, object?> Values { get; } = values;
}

/// <summary>A callable value: a global function, a macro, a bound string/dict method or <c>loop.cycle</c>.</summary>
internal delegate object? JinjaCallable(IReadOnlyList<object?> arguments, IReadOnlyDictionary<string, object?> named);

/// <summary>Python semantics of template values: truth, str(), repr(), equality, ordering, iteration.</summary>
internal static class JinjaValues
{
    public static bool IsTrue(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        ICollection c => c.Count > 0,
        JinjaNamespace => true,
        _ => true,
    };

    /// <summary>What <c>{{ value }}</c> prints (Python str()).</summary>
    public static string ToText(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value, top: true),
    };

    public static string Repr(object? value, bool top = false)
    {
        switch (value)
        {
            case null:
                return "None";
            case Undefined:
                return "";
            case bool b:
                return b ? "True" : "False";
            case long l:
                return l.ToString(CultureInfo.InvariantCulture);
            case double d:
                return FormatFloat(d);
            case string s:
                return top ? s : "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
            case OrderedDictionary<string, object?> dict:
                return "{" + string.Join(", ", dict.Select(kv => Repr(kv.Key) + ": " + Repr(kv.Value))) + "}";
            case JinjaNamespace ns:
                return "<Namespace " + Repr(ns.Values) + ">";
            case IList list:
                return "[" + string.Join(", ", list.Cast<object?>().Select(v => Repr(v))) + "]";
            default:
                return value.ToString() ?? "";
        }
    }

    public static string FormatFloat(double d)
    {
        if (double.IsNaN(d))
        {
            return "nan";
        }
        if (double.IsInfinity(d))
        {
            return d > 0 ? "inf" : "-inf";
        }
        var text = d.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains('.') || text.Contains('E') ? text : text + ".0";
    }

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new ChatTemplateException($"{TypeName(value)} is not a number."),
    };

    public static new bool Equals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined)
        {
            return a is Undefined && b is Undefined;
        }
        if (IsNumber(a) && IsNumber(b))
        {
            return ToDouble(a) == ToDouble(b);
        }
        return (a, b) switch
        {
            (null, null) => true,
            (null, _) or (_, null) => false,
            (string x, string y) => string.Equals(x, y, StringComparison.Ordinal),
            (OrderedDictionary<string, object?> x, OrderedDictionary<string, object?> y) =>
                x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var other) && Equals(kv.Value, other)),
            (IList x, IList y) => x.Count == y.Count && Enumerable.Range(0, x.Count).All(i => Equals(x[i], y[i])),
            _ => ReferenceEquals(a, b),
        };
    }

    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            return ToDouble(a).CompareTo(ToDouble(b));
        }
        if (a is string x && b is string y)
        {
            return string.CompareOrdinal(x, y);
        }
        throw new ChatTemplateException($"cannot order {TypeName(a)} and {TypeName(b)}.");
    }

    /// <summary>The items a for loop visits: list items, dict keys, string characters.</summary>
    public static List<object?> Iterate(object? value) => value switch
    {
        string s => StringElements(s).Cast<object?>().ToList(),
        OrderedDictionary<string, object?> dict => dict.Keys.Cast<object?>().ToList(),
        IList list => list.Cast<object?>().ToList(),
        null or Undefined => [],
        _ => throw new ChatTemplateException($"{TypeName(value)} is not iterable."),
    };

    /// <summary>A string's characters as Python sees them (code points, so surrogate pairs stay together).</summary>
    public static List<string> StringElements(string s) => s.EnumerateRunes().Select(r => r.ToString()).ToList();

    public static int Length(object? value) => value switch
    {
        string s => s.EnumerateRunes().Count(),
        ICollection c => c.Count,
        Undefined => 0,
        _ => throw new ChatTemplateException($"{TypeName(value)} has no length."),
    };

    public static string TypeName(object? value) => value switch
    {
        null => "none",
        Undefined => "an undefined value",
        bool => "a boolean",
        long => "an integer",
        double => "a float",
        string => "a string",
        OrderedDictionary<string, object?> => "a mapping",
        IList => "a list",
        JinjaNamespace => "a namespace",
        JinjaCallable => "a function",
        _ => value.GetType().Name,
    };

    /// <summary>Python's json.dumps(value, ensure_ascii=False[, indent]) — what transformers' tojson filter calls.</summary>
    public static string ToJson(object? value, int? indent, int depth = 0)
    {
        string Pad(int d) => indent is { } n ? "\n" + new string(' ', n * d) : "";
        string separator = indent is null ? ", " : ",";
        switch (value)
        {
            case null or Undefined:
                return "null";
            case bool b:
                return b ? "true" : "false";
            case long or double:
                return Repr(value);
            case string s:
                return JsonString(s);
            case JinjaNamespace ns:
                return ToJson(ns.Values, indent, depth);
            case OrderedDictionary<string, object?> dict:
                if (dict.Count == 0)
                {
                    return "{}";
                }
                return "{" + string.Join(separator, dict.Select(kv => Pad(depth + 1) + JsonString(kv.Key) + ": " + ToJson(kv.Value, indent, depth + 1))) + Pad(depth) + "}";
            case IList list:
                if (list.Count == 0)
                {
                    return "[]";
                }
                return "[" + string.Join(separator, list.Cast<object?>().Select(v => Pad(depth + 1) + ToJson(v, indent, depth + 1))) + Pad(depth) + "]";
            default:
                throw new ChatTemplateException($"{TypeName(value)} cannot be written as JSON.");
        }
    }

    private static string JsonString(string s)
    {
        var text = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            text.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\b' => "\\b",
                '\f' => "\\f",
                < ' ' => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }
        return text.Append('"').ToString();
    }
}
