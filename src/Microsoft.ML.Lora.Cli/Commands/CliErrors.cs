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
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled.");
            return 130;
        }
    }

    private static bool IsUserError(Exception e) =>
        e is IOException or InvalidDataException or ArgumentException or FormatException or UnauthorizedAccessException or NotSupportedException
            or InvalidOperationException and not ObjectDisposedException
            || e.GetType().Namespace?.StartsWith("Microsoft.ML.Lora", StringComparison.Ordinal) == true;

    /// <summary>True when stdout is an interactive terminal (progress bars), false in CI logs and pipes.</summary>
    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
}
