using System.Globalization;

namespace Microsoft.ML.Lora.Sweeps;

/// <summary>How a <see cref="SearchRange"/> spreads its values.</summary>
public enum SearchRangeKind
{
    /// <summary>An explicit list of values, tried in the order given.</summary>
    Choices,

    /// <summary>A continuous interval sampled uniformly; a grid uses evenly spaced points.</summary>
    Uniform,

    /// <summary>A continuous interval sampled uniformly in log space; a grid uses log-spaced points.</summary>
    LogUniform,
}

/// <summary>
/// The values one numeric dimension of a <see cref="LoraSearchSpace"/> may take: a list of choices, or an
/// interval (uniform or log-uniform) that random search samples and grid search cuts into
/// <see cref="GridPoints"/> points. Ranges are checked by <see cref="LoraSearchSpace.Validate"/>.
/// </summary>
public sealed class SearchRange
{
    private readonly double[] _choices;

    private SearchRange(SearchRangeKind kind, double[] choices, double min, double max, int gridPoints)
    {
        Kind = kind;
        _choices = choices;
        Min = min;
        Max = max;
        GridPoints = gridPoints;
    }

    /// <summary>Whether this is a list of choices or an interval.</summary>
    public SearchRangeKind Kind { get; }

    /// <summary>The explicit values (empty for an interval).</summary>
    public IReadOnlyList<double> Choices => _choices;

    /// <summary>Lower end of an interval (the smallest choice for a list).</summary>
    public double Min { get; }

    /// <summary>Upper end of an interval (the largest choice for a list).</summary>
    public double Max { get; }

    /// <summary>How many points grid search takes from an interval (the number of choices for a list).</summary>
    public int GridPoints { get; }

    /// <summary>True when random search draws from a continuum rather than a finite list.</summary>
    public bool IsContinuous => Kind != SearchRangeKind.Choices;

    /// <summary>An explicit list of values; grid search tries them in this order.</summary>
    public static SearchRange Of(params double[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var copy = values.ToArray();
        return new SearchRange(SearchRangeKind.Choices, copy,
            copy.Length == 0 ? double.NaN : copy.Min(), copy.Length == 0 ? double.NaN : copy.Max(), copy.Length);
    }

    /// <summary>An interval [min, max] sampled uniformly; grid search takes <paramref name="gridPoints"/> evenly spaced points.</summary>
    public static SearchRange Uniform(double min, double max, int gridPoints = 3) =>
        new(SearchRangeKind.Uniform, [], min, max, gridPoints);

    /// <summary>An interval [min, max] sampled uniformly in log space (learning rates); grid search takes log-spaced points.</summary>
    public static SearchRange LogUniform(double min, double max, int gridPoints = 3) =>
        new(SearchRangeKind.LogUniform, [], min, max, gridPoints);

    /// <summary>
    /// Parses the command-line forms "1,2,4,8" (choices) and "1e-4..1e-2" (an interval, log-uniform when
    /// <paramref name="logScale"/>), with an optional ":points" suffix on an interval ("1e-4..1e-2:5").
    /// Throws <see cref="InvalidSearchSpaceException"/> naming <paramref name="dimension"/> on malformed text.
    /// </summary>
    public static SearchRange Parse(string text, string dimension, bool logScale, int defaultGridPoints = 3)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var dots = trimmed.IndexOf("..", StringComparison.Ordinal);
        if (dots < 0)
        {
            var parts = trimmed.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            return Of(parts.Select(p => ParseNumber(p, text, dimension)).ToArray());
        }
        var upperText = trimmed[(dots + 2)..];
        var points = defaultGridPoints;
        var colon = upperText.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            var pointsText = upperText[(colon + 1)..];
            if (!int.TryParse(pointsText, NumberStyles.Integer, CultureInfo.InvariantCulture, out points))
            {
                throw new InvalidSearchSpaceException(dimension, $"'{text}': the grid point count '{pointsText}' is not an integer.");
            }
            upperText = upperText[..colon];
        }
        var min = ParseNumber(trimmed[..dots], text, dimension);
        var max = ParseNumber(upperText, text, dimension);
        return logScale ? LogUniform(min, max, points) : Uniform(min, max, points);
    }

    /// <summary>The values grid search visits, in order (rounded and de-duplicated when <paramref name="integer"/>).</summary>
    public IReadOnlyList<double> GridValues(bool integer)
    {
        IEnumerable<double> values = Kind switch
        {
            SearchRangeKind.Choices => _choices,
            SearchRangeKind.Uniform => Enumerable.Range(0, GridPoints).Select(i => Interpolate(Min, Max, i)),
            _ => Enumerable.Range(0, GridPoints).Select(i => Math.Exp(Interpolate(Math.Log(Min), Math.Log(Max), i))),
        };
        if (Kind != SearchRangeKind.Choices)
        {
            // exp(log(x)) drifts in the last digits (1e-3 comes back as 0.0010000000000000002): the ends are
            // the bounds as given, and inner points are kept to 12 significant digits so tables read cleanly.
            values = values.Select((v, i) => i == 0 ? Min : i == GridPoints - 1 ? Max : RoundToSignificantDigits(v, 12));
        }
        return integer ? values.Select(v => Math.Round(v)).Distinct().ToArray() : values.ToArray();
    }

    /// <summary>One random value: a uniform pick among choices, or a (log-)uniform draw from the interval.</summary>
    public double Sample(Random random, bool integer)
    {
        ArgumentNullException.ThrowIfNull(random);
        var value = Kind switch
        {
            SearchRangeKind.Choices => _choices[random.Next(_choices.Length)],
            SearchRangeKind.Uniform => Min + (random.NextDouble() * (Max - Min)),
            _ => Math.Exp(Math.Log(Min) + (random.NextDouble() * (Math.Log(Max) - Math.Log(Min)))),
        };
        return integer ? Math.Round(value) : value;
    }

    /// <summary>
    /// Throws <see cref="InvalidSearchSpaceException"/> naming <paramref name="dimension"/> when the range is
    /// empty or inverted, or holds a value at or below <paramref name="exclusiveLower"/> (or below
    /// <paramref name="inclusiveLower"/>), at or above <paramref name="exclusiveUpper"/>, or not an integer when
    /// <paramref name="integer"/>.
    /// </summary>
    internal void Validate(string dimension, bool integer, double? exclusiveLower = null, double? inclusiveLower = null, double? exclusiveUpper = null)
    {
        if (Kind == SearchRangeKind.Choices && _choices.Length == 0)
        {
            throw new InvalidSearchSpaceException(dimension, "the list of choices is empty.");
        }
        if (Kind != SearchRangeKind.Choices)
        {
            if (!double.IsFinite(Min) || !double.IsFinite(Max))
            {
                throw new InvalidSearchSpaceException(dimension, $"the interval {this} has a bound that is not a finite number.");
            }
            if (Min > Max)
            {
                throw new InvalidSearchSpaceException(dimension, $"the interval {this} is inverted: its lower bound {Format(Min)} is above its upper bound {Format(Max)}.");
            }
            if (GridPoints < 1)
            {
                throw new InvalidSearchSpaceException(dimension, $"the interval {this} asks for {GridPoints} grid points; at least 1 is needed.");
            }
            if (Kind == SearchRangeKind.LogUniform && Min <= 0)
            {
                throw new InvalidSearchSpaceException(dimension, $"the log-uniform interval {this} must lie above 0.");
            }
        }
        var extremes = Kind == SearchRangeKind.Choices ? _choices : [Min, Max];
        foreach (var value in extremes)
        {
            var problem = value switch
            {
                _ when !double.IsFinite(value) => "is not a finite number",
                _ when value <= exclusiveLower => $"must be above {Format(exclusiveLower.Value)}",
                _ when value < inclusiveLower => $"must be at least {Format(inclusiveLower.Value)}",
                _ when value >= exclusiveUpper => $"must be below {Format(exclusiveUpper.Value)}",
                _ when integer && Kind == SearchRangeKind.Choices && value != Math.Round(value) => "must be a whole number",
                _ => null,
            };
            if (problem is not null)
            {
                throw new InvalidSearchSpaceException(dimension, $"the value {Format(value)} in {this} {problem}.");
            }
        }
    }

    /// <summary>"1,2,4" for choices, "0.0001..0.01 (log, 3 points)" for an interval.</summary>
    public override string ToString() => Kind switch
    {
        SearchRangeKind.Choices => string.Join(",", _choices.Select(Format)),
        SearchRangeKind.Uniform => $"{Format(Min)}..{Format(Max)} (uniform, {GridPoints} grid points)",
        _ => $"{Format(Min)}..{Format(Max)} (log-uniform, {GridPoints} grid points)",
    };

    internal static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static double RoundToSignificantDigits(double value, int digits) =>
        double.Parse(value.ToString("G" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    // Grid point i of GridPoints between from and to, ends included; one point means the lower end.
    private double Interpolate(double from, double to, int index) =>
        GridPoints == 1 ? from : from + ((to - from) * index / (GridPoints - 1));

    private static double ParseNumber(string part, string text, string dimension) =>
        double.TryParse(part.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidSearchSpaceException(dimension, $"'{text}': '{part.Trim()}' is not a number (use choices like 1,2,4 or an interval like 1e-4..1e-2).");
}
