using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Results;

/// <summary>What the figures were measured on: CPU model, flags that matter to libtorch, cores, memory, software versions.</summary>
public static class MachineInfo
{
    private static readonly string[] InterestingFlags = ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile"];

    public static IEnumerable<(string Name, string Value)> Describe()
    {
        var cpuinfo = File.Exists("/proc/cpuinfo") ? File.ReadAllLines("/proc/cpuinfo") : [];
        string Field(string name) => cpuinfo.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        var flags = Field("flags").Split(' ');
        yield return ("CPU", Field("model name"));
        yield return ("CPU flags (of interest)", string.Join(" ", InterestingFlags.Where(flags.Contains)));
        yield return ("logical cores", Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        yield return ("memory", MemTotal());
        yield return ("OS", RuntimeInformation.OSDescription);
        yield return (".NET", RuntimeInformation.FrameworkDescription);
        yield return ("Microsoft.ML.Lora", Version(typeof(Microsoft.ML.Lora.MLNet.LoraFineTuneTrainer).Assembly));
        yield return ("ML.NET", Version(typeof(Microsoft.ML.MLContext).Assembly));
        yield return ("TorchSharp", Version(typeof(TorchSharp.torch).Assembly));
        yield return ("libtorch", TorchSharp.torch.__version__);
        yield return ("git commit", Git("rev-parse --short HEAD") + (Git("status --porcelain --untracked-files=no").Length > 0 ? " (with uncommitted changes)" : ""));
    }

    private static string Version(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? assembly.GetName().Version?.ToString() ?? "?";

    private static string MemTotal()
    {
        var line = File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) : null;
        return line is null ? "unknown" : $"{long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / (1024 * 1024)} GiB";
    }

    private static string Git(string arguments)
    {
        try
        {
            var start = new ProcessStartInfo("git", arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}
