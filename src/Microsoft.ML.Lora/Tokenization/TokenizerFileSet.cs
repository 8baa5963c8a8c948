using System.Text;
using System.Text.Json;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// The tokenizer files of one model, by file name, and where they came from (a folder or a model
/// zip), so every error names the real file.
/// </summary>
internal sealed class TokenizerFileSet
{
    private readonly IReadOnlyDictionary<string, byte[]> _files;
    private readonly string? _folder;

    public TokenizerFileSet(IReadOnlyDictionary<string, byte[]> files, string? folder)
    {
        _files = files;
        _folder = folder;
    }

    /// <summary>The folder, or a description of the in-memory file set, for messages about the set as a whole.</summary>
    public string Origin => _folder ?? "tokenizer files";

    public bool Has(string name) => _files.ContainsKey(name);

    public string SourceOf(string name) => _folder is null ? name : Path.Combine(_folder, name);

    public byte[] Bytes(string name) =>
        _files.TryGetValue(name, out var bytes)
            ? bytes
            : throw new InvalidTokenizerException(SourceOf(name), "the file is missing.");

    public string Text(string name)
    {
        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(Bytes(name));
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidTokenizerException(SourceOf(name), "the file is not valid UTF-8 text.", e);
        }
    }

    /// <summary>The parsed JSON object of a file, or null when the file is absent.</summary>
    public JsonElement? JsonOrNull(string name) => Has(name) ? Json(name) : null;

    /// <summary>The parsed JSON object of a file; the file must exist and hold a JSON object.</summary>
    public JsonElement Json(string name)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(Bytes(name), new JsonDocumentOptions { MaxDepth = 64 });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidTokenizerException(SourceOf(name), $"invalid JSON: {e.Message}", e);
        }
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidTokenizerException(SourceOf(name), $"expected a JSON object at the top level, found {root.ValueKind}.");
        }
        return root;
    }
}
