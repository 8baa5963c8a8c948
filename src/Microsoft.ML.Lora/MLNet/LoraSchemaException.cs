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

    /// <summary>The column does not exist.</summary>
    public static LoraSchemaException Missing(string column, string expected) =>
        new(column, $"Schema mismatch: input column '{column}' ({expected}) was not found.");

    /// <summary>The column exists but holds another type.</summary>
    public static LoraSchemaException WrongType(string column, string expected, DataViewType actual, string? hint = null) =>
        new(column, $"Schema mismatch: input column '{column}' must be {expected}, but it is {actual}.{(hint is null ? "" : " " + hint)}");
}

/// <summary>The training data has no usable rows.</summary>
public sealed class EmptyTrainingDataException(string message) : InvalidOperationException(message);
