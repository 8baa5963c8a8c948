using System.Diagnostics;
using System.Text;

namespace BuildTools;

/// <summary>
/// Tells whether the system libstdc++ lacks GLIBCXX_3.4.32 (GCC 13), which TorchSharp 0.107's
/// libLibTorchSharp.so requires. Non-Linux systems never need the shim.
/// </summary>
internal static class GlibcxxProbe
{
    private const string RequiredVersion = "GLIBCXX_3.4.32";

    public static bool NeedsShim()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }
        var library = FindSystemLibStdCxx();
        if (library is null)
        {
            // No libstdc++ found at all: the shim cannot help; let the loader report the real problem.
            return false;
        }
        var content = File.ReadAllBytes(library);
        return content.AsSpan().IndexOf(Encoding.ASCII.GetBytes(RequiredVersion)) < 0;
    }

    private static string? FindSystemLibStdCxx()
    {
        foreach (var candidate in LdconfigCandidates().Concat(WellKnownPaths()))
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    private static IEnumerable<string> WellKnownPaths() =>
    [
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    ];

    private static IEnumerable<string> LdconfigCandidates()
    {
        foreach (var ldconfig in new[] { "/sbin/ldconfig", "/usr/sbin/ldconfig" })
        {
            if (!File.Exists(ldconfig))
            {
                continue;
            }
            string output;
            try
            {
                var info = new ProcessStartInfo(ldconfig, "-p") { RedirectStandardOutput = true, UseShellExecute = false };
                using var process = Process.Start(info)!;
                output = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
            }
            catch (System.ComponentModel.Win32Exception)
            {
                continue;
            }
            foreach (var line in output.Split('\n'))
            {
                if (line.TrimStart().StartsWith("libstdc++.so.6 ", StringComparison.Ordinal) && line.Contains("x86-64", StringComparison.Ordinal))
                {
                    yield return line[(line.IndexOf("=> ", StringComparison.Ordinal) + 3)..].Trim();
                }
            }
            yield break;
        }
    }
}
