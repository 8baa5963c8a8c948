using System.Diagnostics;
using Microsoft.ML.Lora.Benchmarks;

namespace Results;

/// <summary>Wall and CPU time of a phase (training), and the process's peak resident memory.</summary>
public sealed class CellMeasurement
{
    private readonly Stopwatch _wall = new();
    private TimeSpan _cpuAtStart;

    public void Start()
    {
        _cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        _wall.Restart();
    }

    public RunRecord Stop(RunRecord record)
    {
        _wall.Stop();
        return record with
        {
            WallSeconds = _wall.Elapsed.TotalSeconds,
            CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart).TotalSeconds,
        };
    }

    /// <summary>The record with this process's peak RSS (each cell runs in its own process, so it is the cell's).</summary>
    public static RunRecord WithPeakMemory(RunRecord record) => record with { PeakRssBytes = ProcessMemory.PeakResidentBytes() };
}
