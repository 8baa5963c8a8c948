using System.Text;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

/// <summary>
/// A minimal reader of llama2.c's <c>tok*.bin</c> for decoding in tests (int32 max_token_length, then per token:
/// float32 score, int32 byte length, bytes), decoding as llama2.c's <c>run.c</c> does.
/// </summary>
public sealed class Llama2cTokenPieces
{
    private readonly byte[][] _pieces;

    /// <summary>Reads the file for a vocabulary of <paramref name="vocabSize"/> tokens.</summary>
    public Llama2cTokenPieces(string path, int vocabSize)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        reader.ReadInt32();   // max_token_length
        _pieces = new byte[vocabSize][];
        for (int i = 0; i < vocabSize; i++)
        {
            reader.ReadSingle();   // score, unused for decoding
            _pieces[i] = reader.ReadBytes(reader.ReadInt32());
        }
    }

    /// <summary>Decodes ids that follow a BOS: one leading space is dropped, and &lt;0xNN&gt; pieces are raw bytes.</summary>
    public string Decode(IEnumerable<long> ids)
    {
        var bytes = new List<byte>();
        long previous = 1;
        foreach (var id in ids)
        {
            var piece = _pieces[id];
            var text = Encoding.ASCII.GetString(piece);
            if (previous == 1 && piece.Length > 0 && piece[0] == (byte)' ')
            {
                piece = piece[1..];
            }
            if (text.Length == 6 && text.StartsWith("<0x", StringComparison.Ordinal) && text.EndsWith('>'))
            {
                bytes.Add(System.Convert.ToByte(text[3..5], 16));
            }
            else
            {
                bytes.AddRange(piece);
            }
            previous = id;
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }
}
