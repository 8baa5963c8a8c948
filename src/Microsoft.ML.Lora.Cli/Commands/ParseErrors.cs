using System.CommandLine;
using System.CommandLine.Parsing;

namespace MlLora.Cli.Commands;

/// <summary>
/// Turns System.CommandLine's parse errors into the one line the tool prints for a command-line mistake: the
/// flag and value at fault first (a bad value, then an unknown flag or verb, then what is missing).
/// </summary>
internal static class ParseErrors
{
    public static string Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var path = CommandPath(parse.CommandResult);
        foreach (var error in parse.Errors)
        {
            if (error.SymbolResult is OptionResult { Tokens.Count: > 0 } bad)
            {
                var value = string.Join(" ", bad.Tokens.Select(t => t.Value));
                return error.Message.StartsWith("Cannot parse argument", StringComparison.Ordinal)
                    ? $"{bad.Option.Name} '{value}' is not {Expected(bad.Option.ValueType)}."
                    : $"{bad.Option.Name} '{value}': {error.Message}";
            }
        }
        if (parse.UnmatchedTokens.Count > 0)
        {
            var token = parse.UnmatchedTokens[0];
            if (token.StartsWith('-'))
            {
                return $"unknown option '{token}' for '{path}'; see '{path} --help'.";
            }
            return command.Subcommands.Count > 0
                ? $"unknown command '{token}' for '{path}'; the commands are {Names(command)} (see '{path} --help')."
                : $"unexpected argument '{token}' for '{path}'; see '{path} --help'.";
        }
        var missing = parse.Errors.Select(e => e.SymbolResult).OfType<OptionResult>().Select(r => r.Option.Name).Distinct().ToList();
        if (missing.Count > 0)
        {
            return $"'{path}' needs {string.Join(", ", missing)}; see '{path} --help'.";
        }
        if (command.Subcommands.Count > 0)
        {
            return $"'{path}' needs a command: {Names(command)} (see '{path} --help').";
        }
        return parse.Errors[0].Message;
    }

    private static string Names(Command command) => string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                names.Insert(0, c.Parent is null ? "mllora" : c.Command.Name);
            }
        }
        return string.Join(' ', names);
    }

    private static string Expected(Type type) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        var t when t == typeof(int) || t == typeof(long) => "a whole number",
        var t when t == typeof(double) || t == typeof(float) => "a number",
        var t when t == typeof(bool) => "true or false",
        var t => $"a valid {t.Name}",
    };
}
