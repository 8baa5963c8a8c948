namespace Microsoft.ML.Lora.Evaluation;

/// <summary>One input of a data-to-text set with every human reference written for it.</summary>
/// <param name="MeaningRepresentation">The input, e.g. "name : Blue Spice | Type : coffee shop | area : city centre".</param>
/// <param name="References">Its references, in file order.</param>
public sealed record DataToTextExample(string MeaningRepresentation, IReadOnlyList<string> References);

/// <summary>
/// The E2E NLG files of the LoRA paper's repository: one line per reference, <c>meaning representation||reference</c>
/// (the format its format_converting_e2e.py reads). Scoring needs one output per meaning representation against all of
/// its references, so <see cref="Group"/> collects them in order of first appearance.
/// </summary>
public static class DataToTextSet
{
    /// <summary>The (meaning representation, reference) pairs of a file, both trimmed; blank lines are skipped.</summary>
    /// <exception cref="InvalidDataException">A line has no "||" separator or an empty side (the message names file and line).</exception>
    public static IReadOnlyList<(string MeaningRepresentation, string Reference)> ReadPairs(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var pairs = new List<(string, string)>();
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Trim().Length == 0)
            {
                continue;
            }
            int separator = line.IndexOf("||", StringComparison.Ordinal);
            var mr = separator < 0 ? "" : line[..separator].Trim();
            var reference = separator < 0 ? "" : line[(separator + 2)..].Trim();
            if (mr.Length == 0 || reference.Length == 0)
            {
                throw new InvalidDataException($"{path}: line {number} is not 'meaning representation||reference': '{(line.Length > 80 ? line[..80] + "..." : line)}'.");
            }
            pairs.Add((mr, reference));
        }
        return pairs;
    }

    /// <summary>The pairs grouped by identical meaning representation, in order of first appearance.</summary>
    public static IReadOnlyList<DataToTextExample> Group(IEnumerable<(string MeaningRepresentation, string Reference)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var order = new List<string>();
        var references = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (mr, reference) in pairs)
        {
            if (!references.TryGetValue(mr, out var list))
            {
                references[mr] = list = [];
                order.Add(mr);
            }
            list.Add(reference);
        }
        return [.. order.Select(mr => new DataToTextExample(mr, references[mr]))];
    }

    /// <summary>The examples of a file, grouped (<see cref="ReadPairs"/> then <see cref="Group"/>).</summary>
    public static IReadOnlyList<DataToTextExample> Read(string path) => Group(ReadPairs(path));
}
