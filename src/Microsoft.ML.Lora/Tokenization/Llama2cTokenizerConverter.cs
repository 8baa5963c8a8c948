using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// Turns a llama2.c tokenizer export (tokenizer.bin / tok512.bin) back into the SentencePiece
/// tokenizer.model it came from, which Microsoft.ML.Tokenizers loads. The export holds an int32
/// max_token_length, then per token a float32 score, an int32 byte length and the UTF-8 bytes, with
/// '▁' written as a space, BOS as "\n&lt;s&gt;\n" and EOS as "\n&lt;/s&gt;\n".
/// </summary>
public static class Llama2cTokenizerConverter
{
    private const int UnknownId = 0;
    private const int BosId = 1;
    private const int EosId = 2;
    private const int FirstByteId = 3;

    /// <summary>The SentencePiece model (tokenizer.model bytes) equivalent to a llama2.c tokenizer file.</summary>
    /// <exception cref="InvalidTokenizerException">The file is missing, truncated, or not a llama2.c SentencePiece export.</exception>
    public static byte[] Convert(string tokenizerBinPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenizerBinPath);
        if (!File.Exists(tokenizerBinPath))
        {
            throw new InvalidTokenizerException(tokenizerBinPath, "the file does not exist.");
        }
        var tokens = ReadTokens(File.ReadAllBytes(tokenizerBinPath), tokenizerBinPath);
        return SentencePieceModelFile.WriteBpe(ToPieces(tokens, tokenizerBinPath), UnknownId, BosId, EosId);
    }

    /// <summary>Writes the converted model as tokenizer.model into a folder (created if needed) and returns its path.</summary>
    public static string ConvertToFolder(string tokenizerBinPath, string outputDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        var model = Convert(tokenizerBinPath);
        Directory.CreateDirectory(outputDirectory);
        var path = Path.Combine(outputDirectory, TokenizerFileNames.SentencePieceModel);
        File.WriteAllBytes(path, model);
        return path;
    }

    private static List<(float Score, string Text)> ReadTokens(byte[] file, string path)
    {
        if (file.Length < 4)
        {
            throw new InvalidTokenizerException(path, "the file is too short to hold a llama2.c tokenizer header.");
        }
        var maxTokenLength = BinaryPrimitives.ReadInt32LittleEndian(file);
        if (maxTokenLength <= 0)
        {
            throw new InvalidTokenizerException(path, $"max_token_length is {maxTokenLength}; this is not a llama2.c tokenizer file.");
        }
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        var tokens = new List<(float, string)>();
        var position = 4;
        while (position < file.Length)
        {
            if (file.Length - position < 8)
            {
                throw new InvalidTokenizerException(path, $"token {tokens.Count} is truncated (its score and length need 8 bytes, {file.Length - position} remain).");
            }
            var score = BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(position));
            var length = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(position + 4));
            position += 8;
            if (length < 0 || length > maxTokenLength)
            {
                throw new InvalidTokenizerException(path, $"token {tokens.Count} claims {length} bytes, outside 0..max_token_length {maxTokenLength}.");
            }
            if (length > file.Length - position)
            {
                throw new InvalidTokenizerException(path, $"token {tokens.Count} is truncated: it claims {length} bytes, {file.Length - position} remain.");
            }
            try
            {
                tokens.Add((score, utf8.GetString(file, position, length)));
            }
            catch (DecoderFallbackException e)
            {
                throw new InvalidTokenizerException(path, $"token {tokens.Count} is not valid UTF-8.", e);
            }
            position += length;
        }
        return tokens;
    }

    private static List<SentencePieceEntry> ToPieces(List<(float Score, string Text)> tokens, string path)
    {
        var firstNormalId = FirstByteId + 256;
        if (tokens.Count <= firstNormalId)
        {
            throw new InvalidTokenizerException(path, $"{tokens.Count} tokens; a llama2.c SentencePiece export has <unk>, <s>, </s> and 256 byte tokens before its pieces.");
        }
        Expect(tokens, UnknownId, "<unk>", path);
        Expect(tokens, BosId, "\n<s>\n", path);
        Expect(tokens, EosId, "\n</s>\n", path);
        var pieces = new List<SentencePieceEntry>(tokens.Count)
        {
            new("<unk>", tokens[UnknownId].Score, SentencePieceType.Unknown),
            new("<s>", tokens[BosId].Score, SentencePieceType.Control),
            new("</s>", tokens[EosId].Score, SentencePieceType.Control),
        };
        for (var b = 0; b < 256; b++)
        {
            var id = FirstByteId + b;
            Expect(tokens, id, $"<0x{b:X2}>", path);
            pieces.Add(new(tokens[id].Text, tokens[id].Score, SentencePieceType.Byte));
        }
        var seen = pieces.Select(p => p.Piece).ToHashSet(StringComparer.Ordinal);
        for (var id = firstNormalId; id < tokens.Count; id++)
        {
            // The export wrote SentencePiece's '▁' as a space; pieces never hold a real space.
            var piece = tokens[id].Text.Replace(' ', '\u2581');
            if (piece.Length == 0 || !seen.Add(piece))
            {
                throw new InvalidTokenizerException(path, $"token {id} ('{tokens[id].Text}') is empty or repeats an earlier token.");
            }
            pieces.Add(new(piece, tokens[id].Score, SentencePieceType.Normal));
        }
        return pieces;
    }

    private static void Expect(List<(float Score, string Text)> tokens, int id, string expected, string path)
    {
        if (tokens[id].Text != expected)
        {
            throw new InvalidTokenizerException(path, $"token {id} is '{tokens[id].Text}', expected '{expected}' in a llama2.c SentencePiece export.");
        }
    }
}
