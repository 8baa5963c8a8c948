using System.Text;

namespace MlLora.Cli.Data;

/// <summary>
/// Splits one line of a delimited file. Tab-separated files are split on tabs only (quotes are ordinary
/// characters, as in the SMS spam and GLUE exports); comma-separated files follow RFC 4180 quoting.
/// </summary>
internal static class DelimitedLine
{
    public static string[] Split(string line, char delimiter)
    {
        if (delimiter == '\t')
        {
            return line.Split('\t');
        }
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"' && field.Length == 0)
            {
                quoted = true;
            }
            else if (c == delimiter)
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }
        fields.Add(field.ToString());
        return [.. fields];
    }
}
