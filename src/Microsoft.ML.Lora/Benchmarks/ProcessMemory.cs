using System.Diagnostics;
using System.Globalization;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>
/// Resident memory of this process. On Linux it reads /proc/self/status (VmRSS, VmHWM) and can reset the
/// peak through /proc/self/clear_refs, so one phase's peak can be measured after an earlier, larger one.
/// Elsewhere it falls back to <see cref="Process"/> (whose peak cannot be reset).
/// </summary>
public static class ProcessMemory
{
    private const string StatusFile = "/proc/self/status";

    /// <summary>Current resident set size in bytes.</summary>
    public static long ResidentBytes() =>
        ReadStatusKilobytes("VmRSS") is { } kb ? kb * 1024 : Current().WorkingSet64;

    /// <summary>Peak resident set size in bytes since start or since the last <see cref="ResetPeak"/>.</summary>
    public static long PeakResidentBytes() =>
        ReadStatusKilobytes("VmHWM") is { } kb ? kb * 1024 : Current().PeakWorkingSet64;

    /// <summary>Starts a new peak measurement; returns false where the OS does not allow it.</summary>
    public static bool ResetPeak()
    {
        try
        {
            // Writing 5 resets the peak RSS (VmHWM) to the current RSS (Linux ≥ 4.0, proc(5)).
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    /// <summary>The 1-minute load average (Linux), or null: benchmark figures are only comparable at similar load.</summary>
    public static double? LoadAverage()
    {
        try
        {
            var first = File.ReadAllText("/proc/loadavg").Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
            return double.Parse(first, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static Process Current()
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        return process;
    }

    private static long? ReadStatusKilobytes(string field)
    {
        if (!File.Exists(StatusFile))
        {
            return null;
        }
        foreach (var line in File.ReadLines(StatusFile))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                var value = line[(field.Length + 1)..].Trim().Split(' ')[0];
                return long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb) ? kb : null;
            }
        }
        return null;
    }
}
