using System.CommandLine;
using System.Globalization;
using Microsoft.ML.Data;
using MlLora.Cli.Data;
using Microsoft.ML.Lora.MLNet;

namespace MlLora.Cli.Commands;

/// <summary>
/// <c>mllora predict</c>: score a data file and write its columns exactly as read, then the predictions, as TSV.
/// A binary prediction prints in the label's own values when the model recorded them (spam/ham), else true/false.
/// </summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = CommonOptions.ModelZip("A model zip saved by 'mllora train' or mlContext.Model.Save, or a Hugging Face sequence-classification folder ('mllora merge')");
        var data = CommonOptions.Data();
        var output = new Option<string>("--out") { Description = "Output .tsv: input columns + Score/Probability/PredictedLabel (or generated text)", Required = true };
        var overwrite = OutputPaths.Overwrite();
        // Earlier versions rewrote the label column with it; the input is now written back as read, so it changes nothing.
        var positive = new Option<string?>("--positive-label") { Description = "Accepted for compatibility; the input's label column is written back unchanged" };
        var columns = new FolderColumns();
        var command = new Command("predict", "Score a data file with a saved model zip or a merged classifier folder.") { model, data, output, overwrite, positive };
        columns.AddTo(command);
        command.SetAction(parse =>
        {
            var outPath = parse.GetValue(output)!;
            OutputPaths.CheckFile(output, outPath, parse.GetValue(overwrite));
            using var saved = columns.Open(parse, parse.GetValue(model)!);
            var table = TextTable.Load(parse.GetValue(data)!);
            var scored = saved.ScorerFor(table).Transform(TaskData.AsText(table));
            var predictions = scored.Schema.Where(c => !c.IsHidden && !table.Columns.Contains(c.Name)).Select(c => c.Name).ToList();
            int rows = WriteTsv(table, scored, predictions, saved.Lora.LabelNames, outPath);
            Console.WriteLine($"wrote {rows} rows to {outPath}");
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Writes the table's columns as read and the named prediction columns of <paramref name="scored"/> (its rows in
    /// the table's order) as TSV: keys as their values, a binary PredictedLabel as <paramref name="labelNames"/>.
    /// </summary>
    public static int WriteTsv(TextTable table, IDataView scored, IReadOnlyList<string> predictions, IReadOnlyList<string>? labelNames, string path)
    {
        var columns = predictions.Select(n => scored.Schema[n]).ToList();
        var temp = path + ".partial";
        int count = 0;
        using (var writer = new StreamWriter(temp))
        {
            writer.WriteLine(string.Join('\t', table.Columns.Concat(predictions)));
            using var cursor = scored.GetRowCursor(columns);
            var formatters = columns.Select(c => ValueFormatter.For(cursor, c, labelNames)).ToList();
            while (cursor.MoveNext())
            {
                var values = table.Rows[count].Concat(formatters.Select(f => f()));
                writer.WriteLine(string.Join('\t', values.Select(v => v.Replace('\t', ' ').Replace('\n', ' '))));
                count++;
            }
        }
        File.Move(temp, path, overwrite: true);
        return count;
    }
}

/// <summary>Formats a column's current value as text.</summary>
internal static class ValueFormatter
{
    /// <param name="cursor">The cursor the value is read from.</param>
    /// <param name="column">The column.</param>
    /// <param name="binaryNames">[negative, positive]: how a Boolean PredictedLabel is written (default true/false).</param>
    public static Func<string> For(DataViewRowCursor cursor, DataViewSchema.Column column, IReadOnlyList<string>? binaryNames = null)
    {
        switch (column.Type)
        {
            case TextDataViewType:
            {
                var get = cursor.GetGetter<ReadOnlyMemory<char>>(column);
                ReadOnlyMemory<char> v = default;
                return () => { get(ref v); return v.ToString(); };
            }
            case BooleanDataViewType:
            {
                var get = cursor.GetGetter<bool>(column);
                bool v = false;
                var names = column.Name == OutputColumnNames.PredictedLabel && binaryNames is [var negative, var positive] ? (negative, positive) : ("false", "true");
                return () => { get(ref v); return v ? names.Item2 : names.Item1; };
            }
            case KeyDataViewType:
            {
                var get = cursor.GetGetter<uint>(column);
                var names = KeyNames(column);
                uint v = 0;
                return () => { get(ref v); return v == 0 ? "" : names is not null && v <= names.Length ? names[v - 1] : v.ToString(CultureInfo.InvariantCulture); };
            }
            case VectorDataViewType vector when vector.ItemType == NumberDataViewType.Single:
            {
                var get = cursor.GetGetter<VBuffer<float>>(column);
                VBuffer<float> v = default;
                return () => { get(ref v); return string.Join(',', v.DenseValues().Select(x => x.ToString("G6", CultureInfo.InvariantCulture))); };
            }
            case NumberDataViewType when column.Type == NumberDataViewType.Single:
            {
                var get = cursor.GetGetter<float>(column);
                float v = 0;
                return () => { get(ref v); return v.ToString("G6", CultureInfo.InvariantCulture); };
            }
            default:
                return () => $"<{column.Type}>";
        }
    }

    private static string[]? KeyNames(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull("KeyValues") is not { Type: VectorDataViewType { ItemType: TextDataViewType } })
        {
            return null;
        }
        VBuffer<ReadOnlyMemory<char>> values = default;
        column.Annotations.GetValue("KeyValues", ref values);
        return values.DenseValues().Select(v => v.ToString()).ToArray();
    }
}
