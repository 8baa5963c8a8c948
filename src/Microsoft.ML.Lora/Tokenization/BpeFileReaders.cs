using System.Text.Json;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>Reads BPE vocabularies and merge lists in their HF spellings.</summary>
internal static class BpeFileReaders
{
    /// <summary>Ids above this are taken as corruption: real vocabularies stay far below (Gemma's has 262,144 tokens).</summary>
    public const int MaxTokenId = (1 << 24) - 1;

    /// <summary>A token → id JSON object (vocab.json, or tokenizer.json's model.vocab).</summary>
    public static Dictionary<string, int> ReadVocabulary(JsonElement vocab, string source)
    {
        if (vocab.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidTokenizerException(source, $"the vocabulary must be a JSON object of token → id, found {vocab.ValueKind}.");
        }
        var tokens = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0 || id > MaxTokenId)
            {
                throw new InvalidTokenizerException(source, $"vocabulary entry '{entry.Name}' has id {entry.Value}, not a non-negative integer up to {MaxTokenId}.");
            }
            if (!tokens.TryAdd(entry.Name, id))
            {
                throw new InvalidTokenizerException(source, $"vocabulary lists '{entry.Name}' twice.");
            }
        }
        if (tokens.Count == 0)
        {
            throw new InvalidTokenizerException(source, "the vocabulary is empty.");
        }
        return tokens;
    }

    /// <summary>merges.txt: an optional "#version" line, then one "a b" pair per line.</summary>
    public static List<(string Left, string Right)> ReadMergesText(string text, string source)
    {
        var merges = new List<(string, string)>();
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal)))
            {
                continue;
            }
            merges.Add(SplitMerge(line, $"{source} line {lineNumber}"));
        }
        return merges;
    }

    /// <summary>tokenizer.json merges: either "a b" strings or ["a", "b"] arrays (newer files).</summary>
    public static List<(string Left, string Right)> ReadMergesJson(JsonElement? merges, string source)
    {
        if (merges is not { } list)
        {
            return [];
        }
        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidTokenizerException(source, $"model.merges must be a list, found {list.ValueKind}.");
        }
        var result = new List<(string, string)>(list.GetArrayLength());
        var index = 0;
        foreach (var merge in list.EnumerateArray())
        {
            var where = $"{source} model.merges[{index++}]";
            if (merge.ValueKind == JsonValueKind.String)
            {
                result.Add(SplitMerge(merge.GetString()!, where));
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                result.Add((merge[0].GetString()!, merge[1].GetString()!));
            }
            else
            {
                throw new InvalidTokenizerException(where, $"a merge must be \"a b\" or [\"a\", \"b\"], found {merge}.");
            }
        }
        return result;
    }

    private static (string, string) SplitMerge(string merge, string where)
    {
        var parts = merge.Split(' ');
        return parts.Length == 2 && parts[0].Length > 0 && parts[1].Length > 0
            ? (parts[0], parts[1])
            : throw new InvalidTokenizerException(where, $"a merge must be two tokens separated by one space, found '{merge}'.");
    }
}
