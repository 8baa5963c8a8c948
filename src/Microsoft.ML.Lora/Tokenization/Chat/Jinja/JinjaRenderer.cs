using System.Collections;
using System.Text;

namespace Microsoft.ML.Lora.Tokenization.Chat.Jinja;

/// <summary>
/// Renders parsed template nodes against variables with Jinja's scoping (a for loop's body has its own scope, so
/// templates use <c>namespace()</c> to carry values out), Python semantics for values, and HF's extra globals
/// (<c>raise_exception</c>, <c>strftime_now</c>).
/// </summary>
internal sealed class JinjaRenderer
{
    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    private readonly List<Dictionary<string, object?>> _scopes = [];

    public JinjaRenderer(IReadOnlyDictionary<string, object?> variables)
    {
        var globals = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["raise_exception"] = (JinjaCallable)((a, _) => throw new ChatTemplateException("the template raised: " + (a.Count > 0 ? JinjaValues.ToText(a[0]) : "an error"))),
            ["namespace"] = (JinjaCallable)((_, named) => new JinjaNamespace(new OrderedDictionary<string, object?>(named))),
            ["range"] = (JinjaCallable)Range,
            ["strftime_now"] = (JinjaCallable)((a, _) => DateTime.Now.ToString(PythonDateFormat(a.Count > 0 ? JinjaValues.ToText(a[0]) : "%Y-%m-%d"), System.Globalization.CultureInfo.InvariantCulture)),
            ["dict"] = (JinjaCallable)((_, named) => new OrderedDictionary<string, object?>(named)),
        };
        foreach (var (key, value) in variables)
        {
            globals[key] = value;
        }
        _scopes.Add(globals);
    }

    public string Render(IReadOnlyList<Node> nodes)
    {
        var output = new StringBuilder();
        RenderNodes(nodes, output);
        return output.ToString();
    }

    private Flow RenderNodes(IReadOnlyList<Node> nodes, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            var flow = RenderNode(node, output);
            if (flow != Flow.Normal)
            {
                return flow;
            }
        }
        return Flow.Normal;
    }

    private Flow RenderNode(Node node, StringBuilder output)
    {
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputNode print:
                output.Append(JinjaValues.ToText(Evaluate(print.Value)));
                return Flow.Normal;
            case IfNode branch:
                foreach (var (condition, body) in branch.Branches)
                {
                    if (JinjaValues.IsTrue(Evaluate(condition)))
                    {
                        return RenderNodes(body, output);
                    }
                }
                return RenderNodes(branch.Else, output);
            case ForNode loop:
                RenderFor(loop, output);
                return Flow.Normal;
            case SetNode set:
                Assign(set.Target, set.Value is { } value ? Evaluate(value) : RenderToString(set.Body!));
                return Flow.Normal;
            case MacroNode macro:
                _scopes[^1][macro.Name] = MakeMacro(macro);
                return Flow.Normal;
            case BlockNode block when block.Filter is null:
                return RenderNodes(block.Body, output);
            case BlockNode block:
                _scopes.Add(new Dictionary<string, object?>(StringComparer.Ordinal) { ["__block__"] = RenderToString(block.Body) });
                try
                {
                    output.Append(JinjaValues.ToText(Evaluate(block.Filter!)));
                }
                finally
                {
                    _scopes.RemoveAt(_scopes.Count - 1);
                }
                return Flow.Normal;
            case LoopControlNode control:
                return control.IsBreak ? Flow.Break : Flow.Continue;
            default:
                throw new ChatTemplateException($"line {node.Line}: unsupported statement.");
        }
    }

    private string RenderToString(IReadOnlyList<Node> body)
    {
        var text = new StringBuilder();
        RenderNodes(body, text);
        return text.ToString();
    }

    private void RenderFor(ForNode loop, StringBuilder output)
    {
        var all = JinjaValues.Iterate(Evaluate(loop.Iterable));
        var items = new List<object?>();
        foreach (var item in all)
        {
            if (loop.Filter is null || WithScope(() => { Bind(loop.Targets, item); return JinjaValues.IsTrue(Evaluate(loop.Filter)); }))
            {
                items.Add(item);
            }
        }
        if (items.Count == 0)
        {
            RenderNodes(loop.Else, output);
            return;
        }
        for (int i = 0; i < items.Count; i++)
        {
            var info = new OrderedDictionary<string, object?>
            {
                ["index"] = (long)(i + 1),
                ["index0"] = (long)i,
                ["revindex"] = (long)(items.Count - i),
                ["revindex0"] = (long)(items.Count - i - 1),
                ["first"] = i == 0,
                ["last"] = i == items.Count - 1,
                ["length"] = (long)items.Count,
                ["previtem"] = i > 0 ? items[i - 1] : Undefined.Instance,
                ["nextitem"] = i + 1 < items.Count ? items[i + 1] : Undefined.Instance,
            };
            int index = i;
            info["cycle"] = (JinjaCallable)((a, _) => a.Count == 0 ? null : a[index % a.Count]);
            var item = items[i];
            var flow = WithScope(() =>
            {
                _scopes[^1]["loop"] = info;
                Bind(loop.Targets, item);
                return RenderNodes(loop.Body, output);
            });
            if (flow == Flow.Break)
            {
                break;
            }
        }
    }

    private T WithScope<T>(Func<T> action)
    {
        _scopes.Add(new Dictionary<string, object?>(StringComparer.Ordinal));
        try
        {
            return action();
        }
        finally
        {
            _scopes.RemoveAt(_scopes.Count - 1);
        }
    }

    private void Bind(IReadOnlyList<string> targets, object? item)
    {
        if (targets.Count == 1)
        {
            _scopes[^1][targets[0]] = item;
            return;
        }
        var parts = JinjaValues.Iterate(item);
        if (parts.Count != targets.Count)
        {
            throw new ChatTemplateException($"cannot unpack {parts.Count} values into {targets.Count} names.");
        }
        for (int k = 0; k < targets.Count; k++)
        {
            _scopes[^1][targets[k]] = parts[k];
        }
    }

    private void Assign(Expr target, object? value)
    {
        switch (target)
        {
            case NameExpr name:
                _scopes[^1][name.Name] = value;
                break;
            case AttributeExpr { Target: NameExpr owner } attribute:
                if (Lookup(owner.Name) is not JinjaNamespace ns)
                {
                    throw new ChatTemplateException($"line {target.Line}: '{owner.Name}' is not a namespace, so '{owner.Name}.{attribute.Name}' cannot be set.");
                }
                ns.Values[attribute.Name] = value;
                break;
            case ListExpr tuple:
                Bind(tuple.Items.Select(i => ((NameExpr)i).Name).ToList(), value);
                break;
            default:
                throw new ChatTemplateException($"line {target.Line}: cannot assign to this expression.");
        }
    }

    private object? Lookup(string name)
    {
        for (int i = _scopes.Count - 1; i >= 0; i--)
        {
            if (_scopes[i].TryGetValue(name, out var value))
            {
                return value;
            }
        }
        return Undefined.Instance;
    }

    private JinjaCallable MakeMacro(MacroNode macro) => (args, named) =>
    {
        var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (int i = 0; i < macro.Parameters.Count; i++)
        {
            var (name, fallback) = macro.Parameters[i];
            scope[name] = i < args.Count ? args[i] : named.TryGetValue(name, out var v) ? v : fallback is null ? Undefined.Instance : Evaluate(fallback);
        }
        _scopes.Add(scope);
        try
        {
            return RenderToString(macro.Body);
        }
        finally
        {
            _scopes.RemoveAt(_scopes.Count - 1);
        }
    };

    public object? Evaluate(Expr expr)
    {
        switch (expr)
        {
            case LiteralExpr literal:
                return literal.Value;
            case NameExpr name:
                return Lookup(name.Name);
            case ListExpr list:
                return list.Items.Select(Evaluate).ToList();
            case DictExpr dict:
                var result = new OrderedDictionary<string, object?>();
                foreach (var (key, value) in dict.Items)
                {
                    result[JinjaValues.ToText(Evaluate(key))] = Evaluate(value);
                }
                return result;
            case AttributeExpr attribute:
                return GetAttribute(Evaluate(attribute.Target), attribute.Name);
            case IndexExpr index:
                return GetItem(Evaluate(index.Target), Evaluate(index.Index), index.Line);
            case SliceExpr slice:
                return Slice(Evaluate(slice.Target), slice.Start is null ? null : Evaluate(slice.Start), slice.Stop is null ? null : Evaluate(slice.Stop), slice.Step is null ? null : Evaluate(slice.Step));
            case CallExpr call:
                var callee = Evaluate(call.Callee);
                if (callee is not JinjaCallable function)
                {
                    throw new ChatTemplateException($"line {call.Line}: {Describe(call.Callee)} is not a function.");
                }
                return function(call.Arguments.Select(Evaluate).ToList(), call.Named.ToDictionary(n => n.Name, n => Evaluate(n.Value)));
            case FilterExpr filter:
                return JinjaBuiltins.Filter(filter.Name, Evaluate(filter.Value), filter.Arguments.Select(Evaluate).ToList(),
                    filter.Named.ToDictionary(n => n.Name, n => Evaluate(n.Value)), (v, key) => GetItem(v, key, filter.Line));
            case TestExpr test:
                return JinjaBuiltins.Test(test.Name, Evaluate(test.Value), test.Arguments.Select(Evaluate).ToList()) != test.Negated;
            case UnaryExpr unary:
                var operand = Evaluate(unary.Operand);
                return unary.Operator == "not" ? !JinjaValues.IsTrue(operand) : operand is long l ? (object)(-l) : -JinjaValues.ToDouble(operand);
            case BinaryExpr binary:
                return EvaluateBinary(binary);
            case ConditionalExpr conditional:
                return JinjaValues.IsTrue(Evaluate(conditional.Condition)) ? Evaluate(conditional.WhenTrue) : conditional.WhenFalse is null ? Undefined.Instance : Evaluate(conditional.WhenFalse);
            default:
                throw new ChatTemplateException($"line {expr.Line}: unsupported expression.");
        }
    }

    private static string Describe(Expr expr) => expr switch
    {
        NameExpr n => $"'{n.Name}'",
        AttributeExpr a => $"'{a.Name}'",
        _ => "the value",
    };

    private object? EvaluateBinary(BinaryExpr binary)
    {
        if (binary.Operator == "and")
        {
            var left = Evaluate(binary.Left);
            return JinjaValues.IsTrue(left) ? Evaluate(binary.Right) : left;
        }
        if (binary.Operator == "or")
        {
            var left = Evaluate(binary.Left);
            return JinjaValues.IsTrue(left) ? left : Evaluate(binary.Right);
        }
        var a = Evaluate(binary.Left);
        var b = Evaluate(binary.Right);
        try
        {
            return JinjaArithmetic.Apply(binary.Operator, a, b);
        }
        catch (ChatTemplateException e) when (!e.Message.StartsWith("line ", StringComparison.Ordinal))
        {
            throw new ChatTemplateException($"line {binary.Line}: {e.Message}", e);
        }
    }

    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal) : throw new ChatTemplateException($"'in <string>' needs a string, not {JinjaValues.TypeName(item)}."),
        OrderedDictionary<string, object?> dict => item is string key && dict.ContainsKey(key),
        IList list => list.Cast<object?>().Any(x => JinjaValues.Equals(x, item)),
        Undefined or null => false,
        _ => throw new ChatTemplateException($"{JinjaValues.TypeName(container)} does not support 'in'."),
    };

    private static object? GetAttribute(object? target, string name) => target switch
    {
        OrderedDictionary<string, object?> dict when dict.TryGetValue(name, out var value) => value,
        JinjaNamespace ns when ns.Values.TryGetValue(name, out var value) => value,
        _ => (object?)JinjaBuiltins.Method(target, name) ?? Undefined.Instance,
    };

    private static object? GetItem(object? target, object? key, int line)
    {
        switch (target)
        {
            case OrderedDictionary<string, object?> dict:
                return key is string k && dict.TryGetValue(k, out var value) ? value : key is string name ? (object?)JinjaBuiltins.Method(dict, name) ?? Undefined.Instance : Undefined.Instance;
            case JinjaNamespace ns:
                return key is string nk && ns.Values.TryGetValue(nk, out var nv) ? nv : Undefined.Instance;
            case IList list when key is long i:
                long at = i < 0 ? list.Count + i : i;
                return at >= 0 && at < list.Count ? list[(int)at] : Undefined.Instance;
            case string s when key is long ci:
                var chars = JinjaValues.StringElements(s);
                long cat = ci < 0 ? chars.Count + ci : ci;
                return cat >= 0 && cat < chars.Count ? chars[(int)cat] : Undefined.Instance;
            case Undefined or null:
                return Undefined.Instance;
            case string or IList when key is string attribute:
                return (object?)JinjaBuiltins.Method(target, attribute) ?? Undefined.Instance;
            default:
                throw new ChatTemplateException($"line {line}: {JinjaValues.TypeName(target)} cannot be indexed with {JinjaValues.TypeName(key)}.");
        }
    }

    /// <summary>Python slicing of lists and strings (negative bounds, steps such as <c>[::-1]</c>).</summary>
    private static object? Slice(object? target, object? start, object? stop, object? step)
    {
        bool isString = target is string;
        var items = isString ? JinjaValues.StringElements((string)target!).Cast<object?>().ToList() : JinjaValues.Iterate(target);
        long n = items.Count, by = step is long st ? st : 1;
        if (by == 0)
        {
            throw new ChatTemplateException("a slice step cannot be zero.");
        }
        long Clamp(object? bound, long fallback)
        {
            if (bound is not long b)
            {
                return fallback;
            }
            b = b < 0 ? b + n : b;
            return by > 0 ? Math.Clamp(b, 0, n) : Math.Clamp(b, -1, n - 1);
        }
        long from = Clamp(start, by > 0 ? 0 : n - 1), to = Clamp(stop, by > 0 ? n : -1);
        var result = new List<object?>();
        for (long k = from; by > 0 ? k < to : k > to; k += by)
        {
            result.Add(items[(int)k]);
        }
        return isString ? string.Concat(result.Cast<string>()) : result;
    }

    private static object? Range(IReadOnlyList<object?> args, IReadOnlyDictionary<string, object?> named)
    {
        var bounds = args.Select(a => a is long l ? l : throw new ChatTemplateException("range() takes integers.")).ToArray();
        var (from, to, by) = bounds.Length switch
        {
            1 => (0L, bounds[0], 1L),
            2 => (bounds[0], bounds[1], 1L),
            3 => (bounds[0], bounds[1], bounds[2]),
            _ => throw new ChatTemplateException("range() takes 1 to 3 arguments."),
        };
        if (by == 0)
        {
            throw new ChatTemplateException("range() step cannot be zero.");
        }
        var values = new List<object?>();
        for (long k = from; by > 0 ? k < to : k > to; k += by)
        {
            values.Add(k);
        }
        return values;
    }

    private static string PythonDateFormat(string format) => format
        .Replace("%Y", "yyyy", StringComparison.Ordinal).Replace("%m", "MM", StringComparison.Ordinal).Replace("%d", "dd", StringComparison.Ordinal)
        .Replace("%B", "MMMM", StringComparison.Ordinal).Replace("%b", "MMM", StringComparison.Ordinal).Replace("%H", "HH", StringComparison.Ordinal)
        .Replace("%M", "mm", StringComparison.Ordinal).Replace("%S", "ss", StringComparison.Ordinal);
}
