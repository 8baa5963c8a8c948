using Spectre.Console;

namespace MlLora.Cli.Commands;

/// <summary>
/// Turns expected failures (bad files, bad columns, bad arguments) into one clear line on stderr and exit
/// code 2; anything unexpected keeps its stack trace (exit code 1) so it can be reported.
/// </summary>
internal static class CliErrors
{
    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (ExitCodeFor(e.GetType()) == UserError)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return UserError;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled.");
            return 130;
        }
    }

    /// <summary>Exit code of a command that failed on bad input (a typed error, printed as one line).</summary>
    public const int UserError = 2;

    /// <summary>Exit code of an unexpected failure (printed with its stack trace).</summary>
    public const int Crash = 1;

    /// <summary>The exit code a failure of this type ends the tool with (docs/errors.md lists them).</summary>
    public static int ExitCodeFor(Type exceptionType)
    {
        ArgumentNullException.ThrowIfNull(exceptionType);
        bool expected = typeof(IOException).IsAssignableFrom(exceptionType) || typeof(InvalidDataException).IsAssignableFrom(exceptionType)
            || typeof(ArgumentException).IsAssignableFrom(exceptionType) || typeof(FormatException).IsAssignableFrom(exceptionType)
            || typeof(UnauthorizedAccessException).IsAssignableFrom(exceptionType) || typeof(NotSupportedException).IsAssignableFrom(exceptionType)
            || (typeof(InvalidOperationException).IsAssignableFrom(exceptionType) && !typeof(ObjectDisposedException).IsAssignableFrom(exceptionType))
            || exceptionType.Namespace?.StartsWith("Microsoft.ML.Lora", StringComparison.Ordinal) == true;
        return expected ? UserError : Crash;
    }

    /// <summary>True when stdout is an interactive terminal (progress bars), false in CI logs and pipes.</summary>
    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
}
