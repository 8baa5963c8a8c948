using System.CommandLine;

namespace MlLora.Cli.Commands;

/// <summary>The whole tool: parse, run the verb, turn expected errors into one line and exit code 2.</summary>
internal static class CliApp
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("mllora — LoRA fine-tuning of transformer language models for ML.NET (TorchSharp).");
        foreach (var command in CommandCatalog.All())
        {
            root.Subcommands.Add(command);
        }
        // System.CommandLine would print its own stack trace for any exception; CliErrors decides instead.
        return CliErrors.Run(() => root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
    }
}
