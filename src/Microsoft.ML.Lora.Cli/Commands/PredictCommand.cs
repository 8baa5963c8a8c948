using System.CommandLine;
using System.Globalization;
using Microsoft.ML.Data;
using MlLora.Cli.Data;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora predict</c>: score a data file and write the input columns plus the predictions as TSV.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = CommonOptions.ModelZip();
        var data = CommonOptions.Data();
        var output = new Option<string>("--out") { Description = "Output .tsv: input columns + PredictedLabel/Score/Probability (or generated text)", Required = true };
        var positive = new Option<string?>("--positive-label") { Description = "Binary: label value of the positive class in the input file" };
        var command = new Command("predict", "Score a data file with a saved model.") { model, data, output, positive };
        command.SetAction(parse =>
        {
            using var saved = SavedModel.Load(parse.GetValue(model)!);
            var input = saved.LoadData(parse.GetValue(data)!, parse.GetValue(positive));
            var scored = saved.Model.Transform(input);
            var inputColumns = input.Schema.Select(c => c.Name).ToList();
            var outputColumns = scored.Schema.Skip(input.Schema.Count).Select(c => c.Name).ToList();
            int rows = WriteTsv(scored, inputColumns.Concat(outputColumns).Distinct().ToList(), parse.GetValue(output)!);
            Console.WriteLine($"wrote {rows} rows to {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }

    /// <summary>Writes the named columns (last column of each name) as TSV, keys as their values, vectors comma-joined.</summary>
    public static int WriteTsv(IDataView view, IReadOnlyList<string> names, string path)
    {
        var columns = names.Select(n => view.Schema[n]).ToList();
        var temp = path + ".partial";
        int count = 0;
        using (var writer = new StreamWriter(temp))
        {
            writer.WriteLine(string.Join('\t', names));
            using var cursor = view.GetRowCursor(columns);
            var formatters = columns.Select(c => ValueFormatter.For(cursor, c)).ToList();
            while (cursor.MoveNext())
            {
                writer.WriteLine(string.Join('\t', formatters.Select(f => f().Replace('\t', ' ').Replace('\n', ' '))));
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
    public static Func<string> For(DataViewRowCursor cursor, DataViewSchema.Column column)
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
                return () => { get(ref v); return v ? "true" : "false"; };
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
