using Microsoft.ML.Data;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// An input column is missing or has the wrong type. Like ML.NET's own schema errors it derives from
/// <see cref="ArgumentOutOfRangeException"/>; <see cref="ColumnName"/> names the column.
/// </summary>
public sealed class LoraSchemaException : ArgumentOutOfRangeException
{
    private LoraSchemaException(string columnName, string message) : base(columnName, message) => ColumnName = columnName;

    /// <summary>The offending column.</summary>
    public string ColumnName { get; }

    /// <summary>The column does not exist; the message lists the columns that do (<paramref name="available"/>).</summary>
    public static LoraSchemaException Missing(string column, string expected, IEnumerable<string>? available = null)
    {
        var names = available?.Distinct(StringComparer.Ordinal).ToList();
        return new(column, $"Schema mismatch: input column '{column}' ({expected}) was not found." +
            (names is null ? "" : names.Count == 0 ? " The input has no columns." : $" The input's columns: {string.Join(", ", names)}."));
    }

    /// <summary>The column does not exist in <paramref name="schema"/> (listed in the message).</summary>
    public static LoraSchemaException Missing(string column, string expected, DataViewSchema schema) =>
        Missing(column, expected, schema.Where(c => !c.IsHidden).Select(c => c.Name));

    /// <summary>The column exists but holds another type.</summary>
    public static LoraSchemaException WrongType(string column, string expected, DataViewType actual, string? hint = null) =>
        new(column, $"Schema mismatch: input column '{column}' must be {expected}, but it is {actual}.{(hint is null ? "" : " " + hint)}");
}

/// <summary>The training data has no usable rows.</summary>
public sealed class EmptyTrainingDataException(string message) : InvalidOperationException(message);

/// <summary>
/// The training labels cannot teach the task: a binary label holds one class in every row (for example a positive
/// class that matches no row). <see cref="ColumnName"/> names the column, <see cref="ValuesSeen"/> its values.
/// </summary>
public sealed class LabelValuesException(string columnName, IReadOnlyList<string> valuesSeen, string message) : InvalidOperationException(message)
{
    /// <summary>The label column.</summary>
    public string ColumnName { get; } = columnName;

    /// <summary>The distinct label values the data holds.</summary>
    public IReadOnlyList<string> ValuesSeen { get; } = valuesSeen;
}
