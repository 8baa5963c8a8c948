using System.Globalization;

namespace Results;

/// <summary>Mean and sample standard deviation of one metric over the seeds of a setting.</summary>
public sealed record Summary(double Mean, double Std, int Count)
{
    public static Summary? Of(IEnumerable<double?> values)
    {
        var list = values.Where(v => v is not null).Select(v => v!.Value).ToList();
        if (list.Count == 0)
        {
            return null;
        }
        double mean = list.Average();
        double std = list.Count > 1 ? Math.Sqrt(list.Sum(v => (v - mean) * (v - mean)) / (list.Count - 1)) : 0;
        return new Summary(mean, std, list.Count);
    }

    /// <summary>"mean ± std" (scaled), or the mean alone for one value.</summary>
    public string Format(double scale = 1, string format = "F1") =>
        Count > 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(Mean * scale).ToString(format, CultureInfo.InvariantCulture)} ± {(Std * scale).ToString(format, CultureInfo.InvariantCulture)}")
            : (Mean * scale).ToString(format, CultureInfo.InvariantCulture);
}
