using System.Text.Json;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>The parts of a HF tokenizer.json every model kind shares: model type and added tokens.</summary>
internal static class TokenizerJson
{
    /// <summary>
    /// model.type ("BPE", "WordPiece", "Unigram", "WordLevel"). Older files omit it; transformers then
    /// tells BPE by its merges and WordPiece by its continuing-subword prefix without merges.
    /// </summary>
    public static string ModelType(JsonElement root, string source)
    {
        var model = Model(root, source);
        if (JsonFields.String(model, "type", source) is { } type)
        {
            return type;
        }
        if (JsonFields.Member(model, "merges") is not null)
        {
            return "BPE";
        }
        if (JsonFields.Member(model, "max_input_chars_per_word") is not null)
        {
            return "WordPiece";
        }
        throw new InvalidTokenizerException(source, "model has no 'type' and is neither BPE (no merges) nor WordPiece.");
    }

    public static JsonElement Model(JsonElement root, string source) =>
        JsonFields.Member(root, "model") is { ValueKind: JsonValueKind.Object } model
            ? model
            : throw new InvalidTokenizerException(source, "no 'model' object.");

    /// <summary>Whether the pre-tokenizer or decoder is ByteLevel (GPT-2's byte alphabet).</summary>
    public static bool IsByteLevel(JsonElement root) =>
        HasType(JsonFields.Member(root, "pre_tokenizer"), "ByteLevel", "pretokenizers")
        || HasType(JsonFields.Member(root, "decoder"), "ByteLevel", "decoders");

    private static bool HasType(JsonElement? element, string type, string sequenceField)
    {
        if (element is not { ValueKind: JsonValueKind.Object } e || !e.TryGetProperty("type", out var t))
        {
            return false;
        }
        if (t.ValueKind == JsonValueKind.String && t.GetString() == type)
        {
            return true;
        }
        return JsonFields.Member(e, sequenceField) is { ValueKind: JsonValueKind.Array } steps
            && steps.EnumerateArray().Any(step => HasType(step, type, sequenceField));
    }

    /// <summary>The added_tokens list.</summary>
    public static List<AddedToken> AddedTokens(JsonElement root, string source)
    {
        var tokens = new List<AddedToken>();
        if (JsonFields.Member(root, "added_tokens") is not { } list)
        {
            return tokens;
        }
        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidTokenizerException(source, $"added_tokens must be a list, found {list.ValueKind}.");
        }
        foreach (var token in list.EnumerateArray())
        {
            var id = JsonFields.Int(token, "id", source) ?? throw new InvalidTokenizerException(source, $"added token {token} has no 'id'.");
            if (id < 0 || id > BpeFileReaders.MaxTokenId)
            {
                throw new InvalidTokenizerException(source, $"added token {token} has id {id}, outside 0..{BpeFileReaders.MaxTokenId}.");
            }
            tokens.Add(TokenizerSettings.ReadAddedToken(token, id, source));
        }
        return tokens;
    }
}
