using System.Collections;

namespace Microsoft.ML.Lora.Tokenization.Chat.Jinja;

/// <summary>Binary operators with Python semantics: + on numbers, strings and lists, * repetition, / true division, // floor.</summary>
internal static class JinjaArithmetic
{
    public static object? Apply(string op, object? a, object? b)
    {
        switch (op)
        {
            case "==":
                return JinjaValues.Equals(a, b);
            case "!=":
                return !JinjaValues.Equals(a, b);
            case "<":
                return JinjaValues.Compare(a, b) < 0;
            case ">":
                return JinjaValues.Compare(a, b) > 0;
            case "<=":
                return JinjaValues.Compare(a, b) <= 0;
            case ">=":
                return JinjaValues.Compare(a, b) >= 0;
            case "in":
                return JinjaRenderer.Contains(b, a);
            case "not in":
                return !JinjaRenderer.Contains(b, a);
            case "~":
                return JinjaValues.ToText(a) + JinjaValues.ToText(b);
            case "+":
                return (a, b) switch
                {
                    (string x, string y) => x + y,
                    // A special token the tokenizer lacks (eos_token of a model without one) adds nothing, as in @huggingface/jinja.
                    (string x, Undefined) => x,
                    (Undefined, string y) => y,
                    (IList x, IList y) => x.Cast<object?>().Concat(y.Cast<object?>()).ToList(),
                    _ when Integers(a, b, out var x, out var y) => x + y,
                    _ => Numbers(op, a, b, (x, y) => x + y),
                };
            case "-":
                return Integers(a, b, out var l1, out var r1) ? l1 - r1 : Numbers(op, a, b, (x, y) => x - y);
            case "*":
                return (a, b) switch
                {
                    (string s, long n) => string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n))),
                    (long n, string s) => string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n))),
                    _ when Integers(a, b, out var x, out var y) => x * y,
                    _ => Numbers(op, a, b, (x, y) => x * y),
                };
            case "/":
                return Numbers(op, a, b, (x, y) => y == 0 ? throw new ChatTemplateException("division by zero.") : x / y);
            case "//":
                if (Integers(a, b, out var l2, out var r2))
                {
                    return r2 == 0 ? throw new ChatTemplateException("division by zero.") : (long)Math.Floor((double)l2 / r2);
                }
                return Numbers(op, a, b, (x, y) => Math.Floor(x / y));
            case "%":
                if (a is string format)
                {
                    return PercentFormat(format, b);
                }
                if (Integers(a, b, out var l3, out var r3))
                {
                    return r3 == 0 ? throw new ChatTemplateException("modulo by zero.") : ((l3 % r3) + r3) % r3;
                }
                return Numbers(op, a, b, (x, y) => x - y * Math.Floor(x / y));
            case "**":
                return Integers(a, b, out var l4, out var r4) && r4 >= 0 ? (long)Math.Pow(l4, r4) : Numbers(op, a, b, Math.Pow);
            default:
                throw new ChatTemplateException($"unsupported operator '{op}'.");
        }
    }

    private static bool Integers(object? a, object? b, out long x, out long y)
    {
        x = a is long la ? la : a is bool ba ? (ba ? 1 : 0) : 0;
        y = b is long lb ? lb : b is bool bb ? (bb ? 1 : 0) : 0;
        return a is long or bool && b is long or bool;
    }

    private static object Numbers(string op, object? a, object? b, Func<double, double, double> apply)
    {
        if (!JinjaValues.IsNumber(a) || !JinjaValues.IsNumber(b))
        {
            throw new ChatTemplateException($"'{op}' is not defined for {JinjaValues.TypeName(a)} and {JinjaValues.TypeName(b)}.");
        }
        return apply(JinjaValues.ToDouble(a), JinjaValues.ToDouble(b));
    }

    /// <summary>printf-style <c>"%s" % value</c> (only %s and %d, which templates use).</summary>
    private static string PercentFormat(string format, object? values)
    {
        var args = values is IList list ? list.Cast<object?>().ToList() : [values];
        int next = 0;
        var result = new System.Text.StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                result.Append(format[i]);
                continue;
            }
            char spec = format[++i];
            if (spec == '%')
            {
                result.Append('%');
                continue;
            }
            if (next >= args.Count)
            {
                throw new ChatTemplateException("not enough arguments for the format string.");
            }
            result.Append(JinjaValues.ToText(args[next++]));
        }
        return result.ToString();
    }
}
