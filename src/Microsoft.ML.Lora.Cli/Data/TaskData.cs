using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Lora.Training;

namespace MlLora.Cli.Data;

/// <summary>Builds the IDataView a task needs from a text table: text columns as text, the label typed for the task.</summary>
public static class TaskData
{
    private static readonly string[] PositiveWords = ["1", "true", "yes", "positive", "pos", "spam"];
    private static readonly string[] NegativeWords = ["0", "false", "no", "negative", "neg", "ham"];

    /// <summary>
    /// Columns of the file as text, except the label: Boolean (binary; "1/true/yes/positive/spam" vs
    /// "0/false/no/negative/ham", or <paramref name="positiveLabel"/> vs anything else), Single (regression),
    /// text (multiclass; the pipeline maps it to a key).
    /// </summary>
    public static IDataView Load(TextTable table, LoraTask task, string? labelColumn, string? positiveLabel)
    {
        var columns = new List<(string, Array)>();
        for (int c = 0; c < table.Columns.Count; c++)
        {
            var name = table.Columns[c];
            var values = table.Rows.Select(r => r[c]).ToArray();
            if (name == labelColumn && task == LoraTask.BinaryClassification)
            {
                columns.Add((name, ToBoolean(table, name, values, positiveLabel)));
            }
            else if (name == labelColumn && task == LoraTask.Regression)
            {
                columns.Add((name, ToSingle(table, name, values)));
            }
            else
            {
                columns.Add((name, values));
            }
        }
        if (labelColumn is not null && task != LoraTask.CausalLanguageModel)
        {
            table.IndexOf(labelColumn);
        }
        return new InMemoryDataView(columns);
    }

    private static bool[] ToBoolean(TextTable table, string column, string[] values, string? positive)
    {
        var result = new bool[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            var v = values[i].Trim();
            if (positive is not null)
            {
                result[i] = string.Equals(v, positive, StringComparison.OrdinalIgnoreCase);
            }
            else if (PositiveWords.Contains(v, StringComparer.OrdinalIgnoreCase))
            {
                result[i] = true;
            }
            else if (!NegativeWords.Contains(v, StringComparer.OrdinalIgnoreCase))
            {
                var distinct = values.Select(x => x.Trim()).Distinct().Take(5);
                throw new InvalidDataException($"'{table.Path}' row {i + 2}: label '{v}' in column '{column}' is not a recognised binary value ({string.Join(", ", distinct)} ...). Pass --positive-label to name the positive class.");
            }
        }
        return result;
    }

    private static float[] ToSingle(TextTable table, string column, string[] values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.TryParse(values[i], NumberStyles.Float, CultureInfo.InvariantCulture, out result[i]))
            {
                throw new InvalidDataException($"'{table.Path}' row {i + 2}: '{values[i]}' in column '{column}' is not a number (regression needs numeric labels).");
            }
        }
        return result;
    }
}
