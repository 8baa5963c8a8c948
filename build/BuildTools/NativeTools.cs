using System.Diagnostics;

namespace BuildTools;

/// <summary>Runs the native tools the build needs (g++, patchelf).</summary>
internal static class NativeTools
{
    private const string NotFound = "not found";

    /// <summary>Runs <paramref name="tool"/>; false with a description in <paramref name="error"/> when it fails or is missing.</summary>
    public static bool Run(string tool, string arguments, out string error)
    {
        try
        {
            var info = new ProcessStartInfo(tool, arguments) { UseShellExecute = false, RedirectStandardError = true };
            using var process = Process.Start(info)!;
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            error = process.ExitCode == 0 ? "" : $"{tool} {arguments} failed ({process.ExitCode}): {stderr}";
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            error = $"'{tool}' {NotFound}";
            return false;
        }
    }

    /// <summary>Whether <paramref name="error"/> from <see cref="Run"/> says the tool is not installed.</summary>
    public static bool IsMissing(string error) => error.EndsWith(NotFound, StringComparison.Ordinal);
}
