using MlLora.Cli.Commands;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>Runs mllora in-process and captures what it prints (tests run one at a time, see xunit.runner.json).</summary>
internal static class CliRunner
{
    public static (int ExitCode, string Out, string Error) Run(params string[] args) => RunWithInput("", args);

    /// <summary>Runs mllora with <paramref name="input"/> as its standard input.</summary>
    public static (int ExitCode, string Out, string Error) RunWithInput(string input, params string[] args)
    {
        var (stdout, stderr, stdin) = (Console.Out, Console.Error, Console.In);
        using var inputReader = new StringReader(input);
        Console.SetIn(inputReader);
        using var outWriter = new StringWriter();
        using var errorWriter = new StringWriter();
        Console.SetOut(outWriter);
        Console.SetError(errorWriter);
        try
        {
            int code = CliApp.Run(args);
            return (code, outWriter.ToString(), errorWriter.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            Console.SetIn(stdin);
        }
    }
}
