using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Lora.Training;

namespace MlLora.Cli.Data;

/// <summary>Builds the IDataView a task needs from a text table: text columns as text, the label typed for the task.</summary>
public static class TaskData
{
    /// <summary>
    /// Columns of the file as text, except the label: Boolean (binary; see <see cref="BinaryLabels"/>), Single
    /// (regression), text (multiclass; the pipeline maps it to a key). <paramref name="training"/> data must hold
    /// both classes of a binary label.
    /// </summary>
    internal static IDataView Load(TextTable table, LoraTask task, string? labelColumn, BinaryLabels? binary = null, bool training = false)
    {
        if (labelColumn is not null && task != LoraTask.CausalLanguageModel)
        {
            table.IndexOf(labelColumn);
        }
        var columns = new List<(string, Array)>();
        for (int c = 0; c < table.Columns.Count; c++)
        {
            var name = table.Columns[c];
            var values = table.Rows.Select(r => r[c]).ToArray();
            if (name == labelColumn && task == LoraTask.BinaryClassification)
            {
                columns.Add((name, (binary ?? new BinaryLabels(null, null)).Map(table, name, values, training)));
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
        return new InMemoryDataView(columns);
    }

    /// <summary>Every column of the file as text, exactly as read (what <c>mllora predict</c> scores and writes back).</summary>
    internal static IDataView AsText(TextTable table) =>
        new InMemoryDataView([.. table.Columns.Select((name, c) => (name, (Array)table.Rows.Select(r => r[c]).ToArray()))]);

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
