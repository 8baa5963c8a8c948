using System.Text.Json;
using System.Text.Unicode;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// Parses JSON from checkpoint folders (safetensors headers, shard indexes, config.json) so that every
/// malformation surfaces at once as the caller's typed exception: size bounded, UTF-8 checked up front
/// (<see cref="JsonDocument"/> decodes strings lazily and would otherwise fail later, elsewhere).
/// </summary>
internal static class SafeJson
{
    /// <summary>Largest JSON file read (100 MB, the safetensors header limit).</summary>
    public const long MaxFileBytes = 100_000_000;

    /// <summary>Parses bytes; <paramref name="fail"/> turns a problem description into the exception to throw.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> json, Func<string, Exception> fail, int maxDepth = 64)
    {
        var span = json.Span;
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            json = json[3..];
        }
        if (!Utf8.IsValid(json.Span))
        {
            throw fail("not valid JSON (it is not valid UTF-8 text)");
        }
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = maxDepth });
        }
        catch (JsonException e)
        {
            throw fail($"not valid JSON ({e.Message})");
        }
    }

    /// <summary>Reads and parses a file of at most <see cref="MaxFileBytes"/>.</summary>
    public static JsonDocument ParseFile(string path, Func<string, Exception> fail)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes)
        {
            throw fail($"too large: {length} bytes, more than the {MaxFileBytes}-byte limit for a JSON file");
        }
        return Parse(File.ReadAllBytes(path), fail);
    }
}
