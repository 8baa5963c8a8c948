using System.CommandLine;
using MlLora.Cli.Commands;

var root = new RootCommand("mllora — LoRA fine-tuning of transformer language models for ML.NET (TorchSharp).");
foreach (var command in CommandCatalog.All())
{
    root.Subcommands.Add(command);
}
// System.CommandLine would print its own stack trace for any exception; CliErrors decides instead.
return CliErrors.Run(() => root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
