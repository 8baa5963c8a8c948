using System.Buffers.Binary;
using System.Text;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.Tokenization;

/// <summary>
/// llama2.c's encoder (run.c, encode()), written plainly as the reference the library must agree
/// with: a dummy-prefix space, one token per code point (UTF-8 bytes + 3 when the code point has no
/// token), then repeatedly merge the adjacent pair whose concatenation is a token with the highest
/// score, the leftmost on ties. Tokens are spelled with spaces, as llama2.c's export writes them.
/// </summary>
internal sealed class ReferenceSentencePieceBpe
{
    private readonly string[] _text;
    private readonly float[] _score;
    private readonly Dictionary<string, int> _id = new(StringComparer.Ordinal);
    private readonly int[] _byteId = new int[256];

    private ReferenceSentencePieceBpe(List<(string Text, float Score)> tokens)
    {
        _text = tokens.Select(t => t.Text).ToArray();
        _score = tokens.Select(t => t.Score).ToArray();
        for (var id = 0; id < _text.Length; id++)
        {
            _id.TryAdd(_text[id], id);
        }
        for (var b = 0; b < 256; b++)
        {
            _byteId[b] = _id[$"<0x{b:X2}>"];
        }
    }

    /// <summary>From a llama2.c tokenizer file: int32 max length, then (float32 score, int32 length, bytes) per token.</summary>
    public static ReferenceSentencePieceBpe FromLlama2cFile(string path)
    {
        var file = File.ReadAllBytes(path);
        var tokens = new List<(string, float)>();
        for (var position = 4; position < file.Length;)
        {
            var score = BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(position));
            var length = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(position + 4));
            tokens.Add((Encoding.UTF8.GetString(file, position + 8, length), score));
            position += 8 + length;
        }
        return new ReferenceSentencePieceBpe(tokens);
    }

    /// <summary>From a SentencePiece model: its pieces with '▁' spelled as a space, as llama2.c exports them.</summary>
    public static ReferenceSentencePieceBpe FromModel(byte[] model) =>
        new(SentencePieceModelFile.Read(model, "tokenizer.model").Pieces.Select(p => (p.Piece.Replace('\u2581', ' '), p.Score)).ToList());

    public List<int> Encode(string text)
    {
        var tokens = new List<int>();
        if (text.Length > 0)
        {
            tokens.Add(_id[" "]);
        }
        foreach (var rune in text.EnumerateRunes())
        {
            if (_id.TryGetValue(rune.ToString(), out var id))
            {
                tokens.Add(id);
            }
            else
            {
                tokens.AddRange(Encoding.UTF8.GetBytes(rune.ToString()).Select(b => _byteId[b]));
            }
        }
        while (true)
        {
            float bestScore = float.NegativeInfinity;
            int bestId = -1, bestIndex = -1;
            for (var i = 0; i + 1 < tokens.Count; i++)
            {
                if (_id.TryGetValue(_text[tokens[i]] + _text[tokens[i + 1]], out var merged) && _score[merged] > bestScore)
                {
                    bestScore = _score[merged];
                    bestId = merged;
                    bestIndex = i;
                }
            }
            if (bestIndex < 0)
            {
                return tokens;
            }
            tokens[bestIndex] = bestId;
            tokens.RemoveAt(bestIndex + 1);
        }
    }
}
