using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// The progress <c>Fit</c> shows when the caller set no <see cref="LoraFineTuneOptions.Progress"/>: one line on standard
/// error at the first step, then at most every <see cref="Interval"/>, and at each validation — so a console
/// application is never left in silence for a minute, and a log is not flooded either.
/// </summary>
public sealed class ConsoleProgress : IProgress<FineTuningProgress>
{
    private readonly TextWriter _writer;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan? _lastLine;

    /// <summary>Writes to <paramref name="writer"/> (standard error when null).</summary>
    public ConsoleProgress(TextWriter? writer = null, TimeSpan? interval = null)
    {
        _writer = writer ?? Console.Error;
        Interval = interval ?? TimeSpan.FromSeconds(5);
    }

    /// <summary>The shortest time between two step lines.</summary>
    public TimeSpan Interval { get; }

    /// <inheritdoc />
    public void Report(FineTuningProgress value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var now = _clock.Elapsed;
        bool validation = value.ValidationLoss is not null;
        if (!validation && value.Step != value.TotalSteps && _lastLine is { } last && now - last < Interval)
        {
            return;
        }
        _lastLine = now;
        _writer.WriteLine(Format(value, now));
    }

    /// <summary>One progress line: elapsed time, epoch, step of all, loss, speed and validation metrics.</summary>
    public static string Format(FineTuningProgress p, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(p);
        var line = string.Create(CultureInfo.InvariantCulture,
            $"[lora {elapsed.TotalSeconds,6:F1}s] epoch {p.Epoch} step {p.Step}/{p.TotalSteps} loss {p.Loss:F4}");
        if (p.TokensPerSecond > 0)
        {
            line += string.Create(CultureInfo.InvariantCulture, $" {p.TokensPerSecond:F0} tok/s");
        }
        if (p.ValidationLoss is { } vl)
        {
            line += string.Create(CultureInfo.InvariantCulture, $" valid loss {vl:F4}");
        }
        if (p.ValidationAccuracy is { } va)
        {
            line += string.Create(CultureInfo.InvariantCulture, $" valid acc {va:P2}");
        }
        return line;
    }
}
