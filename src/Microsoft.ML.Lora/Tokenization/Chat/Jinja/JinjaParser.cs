using System.Globalization;

namespace Microsoft.ML.Lora.Tokenization.Chat.Jinja;

/// <summary>
/// Parses the Jinja subset chat templates use: if/elif/else, for (with loop variables, an inline filter and else),
/// set (names, namespace attributes, tuples, blocks), macro, filter blocks, break/continue, generation blocks, and
/// Python-like expressions with Jinja's precedence (filters and tests bind tighter than arithmetic).
/// </summary>
internal sealed class JinjaParser
{
    private readonly List<JinjaToken> _tokens;
    private int _position;

    private JinjaParser(List<JinjaToken> tokens) => _tokens = tokens;

    public static IReadOnlyList<Node> Parse(string source)
    {
        var parser = new JinjaParser(JinjaLexer.Tokenize(source));
        var body = parser.ParseBody(out var end);
        if (end is not null)
        {
            throw parser.Error($"'{{% {end} %}}' has no opening tag.");
        }
        return body;
    }

    private JinjaToken Current => _tokens[_position];

    private ChatTemplateException Error(string message) => new($"line {Current.Line}: {message}");

    /// <summary>Parses nodes until the end of the template or a block-closing statement, whose name is returned.</summary>
    private List<Node> ParseBody(out string? closer, params string[] closers)
    {
        var nodes = new List<Node>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.End:
                    closer = null;
                    if (closers.Length > 0)
                    {
                        throw Error($"the template ends before '{{% {closers[0]} %}}'.");
                    }
                    return nodes;
                case TokenKind.Text:
                    _position++;
                    nodes.Add(new TextNode(token.Value, token.Line));
                    break;
                case TokenKind.OutputStart:
                    _position++;
                    nodes.Add(new OutputNode(ParseExpression(), token.Line));
                    Expect(TokenKind.TagEnd);
                    break;
                case TokenKind.StatementStart:
                    var name = PeekName(1);
                    if (closers.Contains(name))
                    {
                        _position += 2;
                        closer = name;
                        return nodes;
                    }
                    _position++;
                    nodes.Add(ParseStatement());
                    break;
                default:
                    throw Error($"unexpected '{token.Value}'.");
            }
        }
    }

    private string? PeekName(int offset) =>
        _position + offset < _tokens.Count && _tokens[_position + offset].Kind == TokenKind.Name ? _tokens[_position + offset].Value : null;

    private Node ParseStatement()
    {
        var keyword = Current;
        if (keyword.Kind != TokenKind.Name)
        {
            throw Error("a statement must start with a keyword.");
        }
        _position++;
        switch (keyword.Value)
        {
            case "if":
                return ParseIf(keyword.Line);
            case "for":
                return ParseFor(keyword.Line);
            case "set":
                return ParseSet(keyword.Line);
            case "macro":
                return ParseMacro(keyword.Line);
            case "filter":
            {
                var filter = ParseFilterTail(new NameExpr("__block__", keyword.Line));
                Expect(TokenKind.TagEnd);
                var filtered = ParseBody(out _, "endfilter");
                Expect(TokenKind.TagEnd);
                return new BlockNode(filtered, filter, keyword.Line);
            }
            case "generation":
                Expect(TokenKind.TagEnd);
                var generated = ParseBody(out _, "endgeneration");
                Expect(TokenKind.TagEnd);
                return new BlockNode(generated, null, keyword.Line);
            case "break" or "continue":
                Expect(TokenKind.TagEnd);
                return new LoopControlNode(keyword.Value == "break", keyword.Line);
            default:
                throw new ChatTemplateException($"line {keyword.Line}: '{{% {keyword.Value} %}}' is outside the Jinja subset chat templates are rendered with.");
        }
    }

    private IfNode ParseIf(int line)
    {
        var branches = new List<(Expr, IReadOnlyList<Node>)>();
        var condition = ParseExpression();
        while (true)
        {
            Expect(TokenKind.TagEnd);
            var body = ParseBody(out var closer, "elif", "else", "endif");
            branches.Add((condition, body));
            if (closer == "elif")
            {
                condition = ParseExpression();
                continue;
            }
            Expect(TokenKind.TagEnd);
            if (closer == "endif")
            {
                return new IfNode(branches, [], line);
            }
            var elseBody = ParseBody(out _, "endif");
            Expect(TokenKind.TagEnd);
            return new IfNode(branches, elseBody, line);
        }
    }

    private ForNode ParseFor(int line)
    {
        var targets = new List<string> { ExpectName() };
        while (Accept(","))
        {
            targets.Add(ExpectName());
        }
        ExpectKeyword("in");
        var iterable = ParseOr();
        var filter = AcceptKeyword("if") ? ParseOr() : null;
        Expect(TokenKind.TagEnd);
        var body = ParseBody(out var closer, "else", "endfor");
        Expect(TokenKind.TagEnd);
        if (closer == "endfor")
        {
            return new ForNode(targets, iterable, filter, body, [], line);
        }
        var elseBody = ParseBody(out _, "endfor");
        Expect(TokenKind.TagEnd);
        return new ForNode(targets, iterable, filter, body, elseBody, line);
    }

    private SetNode ParseSet(int line)
    {
        Expr target = new NameExpr(ExpectName(), line);
        if (Accept("."))
        {
            target = new AttributeExpr(target, ExpectName(), line);
        }
        else if (Current is { Kind: TokenKind.Symbol, Value: "," })
        {
            var names = new List<Expr> { target };
            while (Accept(","))
            {
                names.Add(new NameExpr(ExpectName(), line));
            }
            target = new ListExpr(names, IsTuple: true, line);
        }
        if (Accept("="))
        {
            var value = ParseExpression();
            Expect(TokenKind.TagEnd);
            return new SetNode(target, value, null, line);
        }
        Expect(TokenKind.TagEnd);
        var body = ParseBody(out _, "endset");
        Expect(TokenKind.TagEnd);
        return new SetNode(target, null, body, line);
    }

    private MacroNode ParseMacro(int line)
    {
        var name = ExpectName();
        ExpectSymbol("(");
        var parameters = new List<(string, Expr?)>();
        while (!Accept(")"))
        {
            var parameter = ExpectName();
            parameters.Add((parameter, Accept("=") ? ParseExpression() : null));
            if (!Accept(","))
            {
                ExpectSymbol(")");
                break;
            }
        }
        Expect(TokenKind.TagEnd);
        var body = ParseBody(out _, "endmacro");
        Expect(TokenKind.TagEnd);
        return new MacroNode(name, parameters, body, line);
    }

    public Expr ParseExpression()
    {
        var value = ParseOr();
        if (!AcceptKeyword("if"))
        {
            return value;
        }
        var condition = ParseOr();
        var otherwise = AcceptKeyword("else") ? ParseExpression() : null;
        return new ConditionalExpr(condition, value, otherwise, value.Line);
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (AcceptKeyword("or"))
        {
            left = new BinaryExpr("or", left, ParseAnd(), left.Line);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (AcceptKeyword("and"))
        {
            left = new BinaryExpr("and", left, ParseNot(), left.Line);
        }
        return left;
    }

    private Expr ParseNot()
    {
        int line = Current.Line;
        return AcceptKeyword("not") ? new UnaryExpr("not", ParseNot(), line) : ParseCompare();
    }

    private Expr ParseCompare()
    {
        var left = ParseBinary(0);
        while (true)
        {
            if (Current.Kind == TokenKind.Symbol && Current.Value is "==" or "!=" or "<" or ">" or "<=" or ">=")
            {
                var op = Current.Value;
                _position++;
                left = new BinaryExpr(op, left, ParseBinary(0), left.Line);
            }
            else if (AcceptKeyword("in"))
            {
                left = new BinaryExpr("in", left, ParseBinary(0), left.Line);
            }
            else if (PeekName(0) == "not" && PeekName(1) == "in")
            {
                _position += 2;
                left = new BinaryExpr("not in", left, ParseBinary(0), left.Line);
            }
            else
            {
                return left;
            }
        }
    }

    // Jinja's arithmetic levels, loosest first: + -, then ~, then * / // %, then **.
    private static readonly string[][] BinaryLevels = [["+", "-"], ["~"], ["*", "/", "//", "%"], ["**"]];

    private Expr ParseBinary(int level)
    {
        if (level == BinaryLevels.Length)
        {
            return ParseUnary();
        }
        var left = ParseBinary(level + 1);
        while (Current.Kind == TokenKind.Symbol && BinaryLevels[level].Contains(Current.Value))
        {
            var op = Current.Value;
            _position++;
            left = new BinaryExpr(op, left, ParseBinary(level + 1), left.Line);
        }
        return left;
    }

    private Expr ParseUnary()
    {
        int line = Current.Line;
        if (Accept("-"))
        {
            return new UnaryExpr("-", ParseUnary(), line);
        }
        if (Accept("+"))
        {
            return ParseUnary();
        }
        return ParseFilterTail(ParsePostfix(ParsePrimary()));
    }

    /// <summary>Filters (<c>| name(args)</c>) and tests (<c>is [not] name(args)</c>) after a value.</summary>
    private Expr ParseFilterTail(Expr value)
    {
        while (true)
        {
            if (Accept("|"))
            {
                var name = ExpectName();
                var (args, named) = Current is { Kind: TokenKind.Symbol, Value: "(" } ? ParseArguments() : ([], []);
                value = new FilterExpr(value, name, args, named, value.Line);
            }
            else if (AcceptKeyword("is"))
            {
                bool negated = AcceptKeyword("not");
                var name = ExpectName();
                var args = new List<Expr>();
                if (Current is { Kind: TokenKind.Symbol, Value: "(" })
                {
                    args.AddRange(ParseArguments().Positional);
                }
                else if (Current.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float || (Current.Kind == TokenKind.Name && Current.Value is not ("and" or "or" or "else" or "if")))
                {
                    args.Add(ParsePostfix(ParsePrimary()));
                }
                value = new TestExpr(value, name, args, negated, value.Line);
            }
            else
            {
                return value;
            }
        }
    }

    private Expr ParsePostfix(Expr value)
    {
        while (true)
        {
            if (Accept("."))
            {
                value = new AttributeExpr(value, ExpectName(), value.Line);
            }
            else if (Current is { Kind: TokenKind.Symbol, Value: "[" })
            {
                _position++;
                value = ParseSubscript(value);
            }
            else if (Current is { Kind: TokenKind.Symbol, Value: "(" })
            {
                var (args, named) = ParseArguments();
                value = new CallExpr(value, args, named, value.Line);
            }
            else
            {
                return value;
            }
        }
    }

    private Expr ParseSubscript(Expr target)
    {
        Expr? start = Current is { Kind: TokenKind.Symbol, Value: ":" } ? null : ParseExpression();
        if (Accept("]"))
        {
            return new IndexExpr(target, start!, target.Line);
        }
        ExpectSymbol(":");
        Expr? stop = Current is { Kind: TokenKind.Symbol, Value: ":" or "]" } ? null : ParseExpression();
        Expr? step = null;
        if (Accept(":") && Current is not { Kind: TokenKind.Symbol, Value: "]" })
        {
            step = ParseExpression();
        }
        ExpectSymbol("]");
        return new SliceExpr(target, start, stop, step, target.Line);
    }

    private (List<Expr> Positional, List<(string, Expr)> Named) ParseArguments()
    {
        ExpectSymbol("(");
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        while (!Accept(")"))
        {
            if (Current.Kind == TokenKind.Name && _tokens[_position + 1] is { Kind: TokenKind.Symbol, Value: "=" })
            {
                var name = Current.Value;
                _position += 2;
                named.Add((name, ParseExpression()));
            }
            else
            {
                positional.Add(ParseExpression());
            }
            if (!Accept(","))
            {
                ExpectSymbol(")");
                break;
            }
        }
        return (positional, named);
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        _position++;
        switch (token.Kind)
        {
            case TokenKind.String:
                var text = token.Value;
                while (Current.Kind == TokenKind.String)
                {
                    text += Current.Value; // adjacent literals concatenate, as in Python
                    _position++;
                }
                return new LiteralExpr(text, token.Line);
            case TokenKind.Integer:
                return new LiteralExpr(long.Parse(token.Value, CultureInfo.InvariantCulture), token.Line);
            case TokenKind.Float:
                return new LiteralExpr(double.Parse(token.Value, CultureInfo.InvariantCulture), token.Line);
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Line),
                    "false" or "False" => new LiteralExpr(false, token.Line),
                    "none" or "None" => new LiteralExpr(null, token.Line),
                    _ => new NameExpr(token.Value, token.Line),
                };
            case TokenKind.Symbol when token.Value == "(":
            {
                if (Accept(")"))
                {
                    return new ListExpr([], IsTuple: true, token.Line);
                }
                var first = ParseExpression();
                if (Accept(")"))
                {
                    return first;
                }
                var items = new List<Expr> { first };
                while (Accept(",") && Current is not { Kind: TokenKind.Symbol, Value: ")" })
                {
                    items.Add(ParseExpression());
                }
                ExpectSymbol(")");
                return new ListExpr(items, IsTuple: true, token.Line);
            }
            case TokenKind.Symbol when token.Value == "[":
            {
                var items = new List<Expr>();
                while (!Accept("]"))
                {
                    items.Add(ParseExpression());
                    if (!Accept(","))
                    {
                        ExpectSymbol("]");
                        break;
                    }
                }
                return new ListExpr(items, IsTuple: false, token.Line);
            }
            case TokenKind.Symbol when token.Value == "{":
            {
                var items = new List<(Expr, Expr)>();
                while (!Accept("}"))
                {
                    var key = ParseExpression();
                    ExpectSymbol(":");
                    items.Add((key, ParseExpression()));
                    if (!Accept(","))
                    {
                        ExpectSymbol("}");
                        break;
                    }
                }
                return new DictExpr(items, token.Line);
            }
            default:
                _position--;
                throw Error(token.Kind == TokenKind.TagEnd ? "an expression is missing." : $"unexpected '{token.Value}' in an expression.");
        }
    }

    private bool Accept(string symbol)
    {
        if (Current.Kind == TokenKind.Symbol && Current.Value == symbol)
        {
            _position++;
            return true;
        }
        return false;
    }

    private bool AcceptKeyword(string keyword)
    {
        if (Current.Kind == TokenKind.Name && Current.Value == keyword)
        {
            _position++;
            return true;
        }
        return false;
    }

    private void ExpectSymbol(string symbol)
    {
        if (!Accept(symbol))
        {
            throw Error($"expected '{symbol}', found '{Describe(Current)}'.");
        }
    }

    private void ExpectKeyword(string keyword)
    {
        if (!AcceptKeyword(keyword))
        {
            throw Error($"expected '{keyword}', found '{Describe(Current)}'.");
        }
    }

    private string ExpectName()
    {
        if (Current.Kind != TokenKind.Name)
        {
            throw Error($"expected a name, found '{Describe(Current)}'.");
        }
        return _tokens[_position++].Value;
    }

    private void Expect(TokenKind kind)
    {
        if (Current.Kind != kind)
        {
            throw Error($"expected {(kind == TokenKind.TagEnd ? "the end of the tag" : kind.ToString())}, found '{Describe(Current)}'.");
        }
        _position++;
    }

    private static string Describe(JinjaToken token) => token.Kind switch
    {
        TokenKind.TagEnd => "end of tag",
        TokenKind.End => "end of template",
        _ => token.Value,
    };
}
