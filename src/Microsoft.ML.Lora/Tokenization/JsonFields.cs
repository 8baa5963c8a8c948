using System.Text.Json;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>Typed reads of optional JSON fields that fail with the file and field named.</summary>
internal static class JsonFields
{
    public static JsonElement? Member(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    public static string? String(JsonElement obj, string name, string source)
    {
        if (Member(obj, name) is not { } value)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw new InvalidTokenizerException(source, $"'{name}' must be a string, found {value.ValueKind}.");
    }

    public static bool? Bool(JsonElement obj, string name, string source)
    {
        if (Member(obj, name) is not { } value)
        {
            return null;
        }
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidTokenizerException(source, $"'{name}' must be true or false, found {value.ValueKind}."),
        };
    }

    public static int? Int(JsonElement obj, string name, string source)
    {
        if (Member(obj, name) is not { } value)
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number)
            ? number
            : throw new InvalidTokenizerException(source, $"'{name}' must be an integer, found {value}.");
    }

    /// <summary>
    /// A special-token field written either as a string or as HF's AddedToken object
    /// ({"content": "&lt;s&gt;", ...}); null when absent or null.
    /// </summary>
    public static string? TokenContent(JsonElement obj, string name, string source)
    {
        if (Member(obj, name) is not { } value)
        {
            return null;
        }
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object => String(value, "content", source)
                ?? throw new InvalidTokenizerException(source, $"'{name}' has no 'content'."),
            _ => throw new InvalidTokenizerException(source, $"'{name}' must be a token string or an object with 'content', found {value.ValueKind}."),
        };
    }

    /// <summary>An id field that HF writes either as one integer or as a list (the first one counts).</summary>
    public static int? FirstInt(JsonElement obj, string name, string source)
    {
        if (Member(obj, name) is not { } value)
        {
            return null;
        }
        if (value.ValueKind == JsonValueKind.Array)
        {
            var first = value.EnumerateArray().FirstOrDefault();
            return first.ValueKind == JsonValueKind.Number && first.TryGetInt32(out var id)
                ? id
                : value.GetArrayLength() == 0 ? null : throw new InvalidTokenizerException(source, $"'{name}' must list integers, found {value}.");
        }
        return Int(obj, name, source);
    }

    /// <summary>The items of an optional list field; empty when absent.</summary>
    public static IEnumerable<JsonElement> Array(JsonElement obj, string name, string source)
    {
        if (Member(obj, name) is not { } value)
        {
            return [];
        }
        return value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray().ToList()
            : throw new InvalidTokenizerException(source, $"'{name}' must be a list, found {value.ValueKind}.");
    }
}
