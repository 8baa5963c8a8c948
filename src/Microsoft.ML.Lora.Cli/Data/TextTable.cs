using System.Text.Json;

namespace MlLora.Cli.Data;

/// <summary>
/// A data file read as text: .tsv/.csv with a header row, or .jsonl (one JSON object per line).
/// Every value is kept as a string; the command decides the label type.
/// </summary>
public sealed class TextTable
{
    private TextTable(string path, IReadOnlyList<string> columns, List<string[]> rows)
    {
        Path = path;
        Columns = columns;
        Rows = rows;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }
    /// <summary>Column names in file order.</summary>
    public IReadOnlyList<string> Columns { get; }
    /// <summary>Rows of values, one per column.</summary>
    public List<string[]> Rows { get; }

    /// <summary>Reads a .tsv, .csv or .jsonl file; a clear <see cref="InvalidDataException"/> names the file and line on bad input.</summary>
    public static TextTable Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Data file '{path}' does not exist.", path);
        }
        var extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".jsonl" or ".ndjson" => LoadJsonLines(path),
            ".csv" => LoadDelimited(path, ','),
            ".tsv" or ".txt" or "" => LoadDelimited(path, '\t'),
            _ => throw new InvalidDataException($"'{path}': unsupported data file type '{extension}'. Use .tsv or .csv with a header row, or .jsonl."),
        };
    }

    /// <summary>Index of a column, or a clear error listing the file's columns.</summary>
    public int IndexOf(string column)
    {
        int index = Columns.ToList().IndexOf(column);
        return index >= 0 ? index : throw new InvalidDataException($"'{Path}' has no column '{column}'. Its columns: {string.Join(", ", Columns)}.");
    }

    private static TextTable LoadDelimited(string path, char delimiter)
    {
        using var reader = new StreamReader(path);
        var header = reader.ReadLine();
        if (string.IsNullOrWhiteSpace(header))
        {
            throw new InvalidDataException($"'{path}' is empty: a header row with column names is required.");
        }
        var columns = DelimitedLine.Split(header, delimiter).Select(c => c.Trim()).ToArray();
        var rows = new List<string[]>();
        int lineNumber = 1;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }
            var fields = DelimitedLine.Split(line, delimiter);
            if (fields.Length != columns.Length)
            {
                throw new InvalidDataException($"'{path}' line {lineNumber}: expected {columns.Length} fields ({string.Join(", ", columns)}), found {fields.Length}.");
            }
            rows.Add(fields);
        }
        return new TextTable(path, columns, rows);
    }

    private static TextTable LoadJsonLines(string path)
    {
        var columns = new List<string>();
        var records = new List<Dictionary<string, string>>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"'{path}' line {lineNumber}: not valid JSON ({e.Message}).", e);
            }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"'{path}' line {lineNumber}: each line must be a JSON object.");
                }
                var record = new Dictionary<string, string>();
                foreach (var property in document.RootElement.EnumerateObject())
                {
                    if (!columns.Contains(property.Name))
                    {
                        columns.Add(property.Name);
                    }
                    record[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
                }
                records.Add(record);
            }
        }
        var rows = records.Select(r => columns.Select(c => r.GetValueOrDefault(c, "")).ToArray()).ToList();
        return new TextTable(path, columns, rows);
    }
}
