using System.CommandLine;
using System.CommandLine.Help;

namespace MlLora.Cli.Commands;

/// <summary>The whole tool: parse, run the verb, turn command-line mistakes and expected errors into one line and exit code 2.</summary>
internal static class CliApp
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("mllora — LoRA fine-tuning of transformer language models for ML.NET (TorchSharp).");
        foreach (var command in CommandCatalog.All())
        {
            root.Subcommands.Add(command);
        }
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
        {
            // One line naming the flag and value (System.CommandLine would print every error and the whole help).
            Console.Error.WriteLine($"error: {ParseErrors.Describe(parse)}");
            return 2;
        }
        // System.CommandLine would print its own stack trace for any exception; CliErrors decides instead.
        return CliErrors.Run(() => parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
    }
}
