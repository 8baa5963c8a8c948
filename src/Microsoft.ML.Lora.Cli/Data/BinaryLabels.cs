namespace MlLora.Cli.Data;

/// <summary>
/// How the values of a binary label column become classes: <c>--positive-label</c> against everything else, else
/// the names a saved model recorded, else the usual words (1/true/yes/positive/pos/spam against
/// 0/false/no/negative/neg/ham). Remembers the data's own spelling of each class so a saved model can print it.
/// </summary>
internal sealed class BinaryLabels(string? positiveLabel, IReadOnlyList<string>? recordedNames)
{
    private static readonly string[] PositiveWords = ["1", "true", "yes", "positive", "pos", "spam"];
    private static readonly string[] NegativeWords = ["0", "false", "no", "negative", "neg", "ham"];

    /// <summary>Maps the column's values; a value no rule knows is an error naming the file, row and column.</summary>
    public bool[] Map(TextTable table, string column, string[] values, bool training)
    {
        var result = new bool[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            var v = values[i].Trim();
            result[i] = Classify(v) ?? throw new InvalidDataException(
                $"'{table.Path}' row {i + 2}: label '{v}' in column '{column}' is not a recognised binary value (values seen: {Distinct(values)}). Pass --positive-label to name the positive class.");
        }
        if (training)
        {
            RequireBothClasses(table, column, values, result);
        }
        Names = [Spelling(values, result, false) ?? $"not {Spelling(values, result, true)}", Spelling(values, result, true) ?? positiveLabel ?? "true"];
        return result;
    }

    /// <summary>The classes' names as the data spells them, [negative, positive] (after <see cref="Map"/>).</summary>
    public string[]? Names { get; private set; }

    private bool? Classify(string value)
    {
        if (positiveLabel is not null)
        {
            return string.Equals(value, positiveLabel.Trim(), StringComparison.OrdinalIgnoreCase);
        }
        if (recordedNames is [var negative, var positive])
        {
            if (string.Equals(value, positive, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
            if (string.Equals(value, negative, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }
        return PositiveWords.Contains(value, StringComparer.OrdinalIgnoreCase) ? true
            : NegativeWords.Contains(value, StringComparer.OrdinalIgnoreCase) ? false
            : null;
    }

    private void RequireBothClasses(TextTable table, string column, string[] values, bool[] classes)
    {
        if (classes.Length == 0 || (classes.Any(c => c) && classes.Any(c => !c)))
        {
            return;
        }
        var valuesSeen = Distinct(values);
        throw new InvalidDataException(positiveLabel is not null && !classes[0]
            ? $"--positive-label '{positiveLabel}' occurs in no row of column '{column}' in '{table.Path}' (values seen: {valuesSeen}); binary training needs rows of both classes."
            : $"column '{column}' in '{table.Path}' holds only {(classes[0] ? "positive" : "negative")} labels (values seen: {valuesSeen}); binary training needs rows of both classes (name the positive one with --positive-label).");
    }

    /// <summary>The most frequent spelling among the rows of one class, or null when the class has no rows.</summary>
    private static string? Spelling(string[] values, bool[] classes, bool positive) =>
        values.Where((_, i) => classes[i] == positive).Select(v => v.Trim())
            .GroupBy(v => v, StringComparer.Ordinal).OrderByDescending(g => g.Count()).Select(g => g.Key).FirstOrDefault();

    /// <summary>The column's distinct values in order of appearance, at most 8.</summary>
    private static string Distinct(string[] values)
    {
        var distinct = values.Select(v => v.Trim()).Distinct(StringComparer.Ordinal).ToList();
        var shown = distinct.Take(8).Select(v => v.Length == 0 ? "(empty)" : v);
        return string.Join(", ", distinct.Count > 8 ? shown.Append("...") : shown);
    }
}
