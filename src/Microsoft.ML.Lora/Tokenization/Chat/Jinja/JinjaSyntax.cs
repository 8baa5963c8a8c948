namespace Microsoft.ML.Lora.Tokenization.Chat.Jinja;

/// <summary>A template statement (text, output, if, for, set, macro...).</summary>
internal abstract record Node(int Line);

internal sealed record TextNode(string Text, int Line) : Node(Line);

internal sealed record OutputNode(Expr Value, int Line) : Node(Line);

internal sealed record IfNode(IReadOnlyList<(Expr Condition, IReadOnlyList<Node> Body)> Branches, IReadOnlyList<Node> Else, int Line) : Node(Line);

internal sealed record ForNode(IReadOnlyList<string> Targets, Expr Iterable, Expr? Filter, IReadOnlyList<Node> Body, IReadOnlyList<Node> Else, int Line) : Node(Line);

/// <summary><c>{% set x = v %}</c>, <c>{% set ns.x = v %}</c>, <c>{% set a, b = v %}</c> or a block set.</summary>
internal sealed record SetNode(Expr Target, Expr? Value, IReadOnlyList<Node>? Body, int Line) : Node(Line);

internal sealed record MacroNode(string Name, IReadOnlyList<(string Name, Expr? Default)> Parameters, IReadOnlyList<Node> Body, int Line) : Node(Line);

/// <summary>Statements whose output is filtered (<c>{% filter upper %}</c>) — or plain blocks such as <c>{% generation %}</c>.</summary>
internal sealed record BlockNode(IReadOnlyList<Node> Body, Expr? Filter, int Line) : Node(Line);

internal sealed record LoopControlNode(bool IsBreak, int Line) : Node(Line);

/// <summary>An expression.</summary>
internal abstract record Expr(int Line);

internal sealed record LiteralExpr(object? Value, int Line) : Expr(Line);

internal sealed record NameExpr(string Name, int Line) : Expr(Line);

internal sealed record ListExpr(IReadOnlyList<Expr> Items, bool IsTuple, int Line) : Expr(Line);

internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Items, int Line) : Expr(Line);

internal sealed record AttributeExpr(Expr Target, string Name, int Line) : Expr(Line);

internal sealed record IndexExpr(Expr Target, Expr Index, int Line) : Expr(Line);

internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);

internal sealed record CallExpr(Expr Callee, IReadOnlyList<Expr> Arguments, IReadOnlyList<(string Name, Expr Value)> Named, int Line) : Expr(Line);

/// <summary><c>value | name(args)</c>.</summary>
internal sealed record FilterExpr(Expr Value, string Name, IReadOnlyList<Expr> Arguments, IReadOnlyList<(string Name, Expr Value)> Named, int Line) : Expr(Line);

/// <summary><c>value is [not] name(args)</c>.</summary>
internal sealed record TestExpr(Expr Value, string Name, IReadOnlyList<Expr> Arguments, bool Negated, int Line) : Expr(Line);

internal sealed record UnaryExpr(string Operator, Expr Operand, int Line) : Expr(Line);

internal sealed record BinaryExpr(string Operator, Expr Left, Expr Right, int Line) : Expr(Line);

internal sealed record ConditionalExpr(Expr Condition, Expr WhenTrue, Expr? WhenFalse, int Line) : Expr(Line);
