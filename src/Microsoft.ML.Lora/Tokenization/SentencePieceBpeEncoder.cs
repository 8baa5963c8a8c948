using System.Text;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// SentencePiece's BPE encoding of normalized text: start from characters (user-defined pieces kept
/// whole), repeatedly merge the adjacent pair whose merged piece has the highest score (the leftmost
/// pair on ties), then spell pieces missing from the vocabulary as byte pieces (or unknown).
/// Microsoft.ML.Tokenizers 2.0.1's SentencePieceBpeModel breaks score ties towards the rightmost pair
/// (SymbolPair.CompareTo), so "ahhhh" or "!!!!" come out differently from sentencepiece and llama2.c;
/// this encoder keeps its normalizer, vocabulary and decoder and replaces only the merge loop.
/// </summary>
internal sealed class SentencePieceBpeEncoder
{
    private readonly Dictionary<string, (int Id, float Score)> _mergeable = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _final = new(StringComparer.Ordinal);
    private readonly string[] _userDefined;
    private readonly int[]? _byteIds;
    private readonly int _unkId;

    public SentencePieceBpeEncoder(IReadOnlyList<SentencePieceEntry> pieces, bool byteFallback, int unkId)
    {
        for (var id = 0; id < pieces.Count; id++)
        {
            var (piece, score, type) = pieces[id];
            if (type is SentencePieceType.Normal or SentencePieceType.UserDefined)
            {
                _mergeable.TryAdd(piece, (id, score));
            }
            if (type != SentencePieceType.Unused)
            {
                _final.TryAdd(piece, id);
            }
        }
        _userDefined = pieces.Where(p => p.Type == SentencePieceType.UserDefined && p.Piece.Length > 1)
            .Select(p => p.Piece).OrderByDescending(p => p.Length).ToArray();
        if (byteFallback)
        {
            _byteIds = new int[256];
            for (var b = 0; b < 256; b++)
            {
                _byteIds[b] = _final.TryGetValue($"<0x{b:X2}>", out var id) ? id : unkId;
            }
        }
        _unkId = unkId;
    }

    public void Encode(string text, List<int> ids)
    {
        if (text.Length == 0)
        {
            return;
        }
        // Symbols as a doubly linked list over the text: start, length, neighbours.
        var start = new List<int>();
        var length = new List<int>();
        for (var i = 0; i < text.Length;)
        {
            var size = UserDefinedAt(text, i) ?? (char.IsSurrogatePair(text, i) ? 2 : 1);
            start.Add(i);
            length.Add(size);
            i += size;
        }
        var count = start.Count;
        var previous = Enumerable.Range(-1, count).ToArray();
        var next = Enumerable.Range(1, count).Select(n => n < count ? n : -1).ToArray();

        var mergeable = _mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
        var agenda = new PriorityQueue<(int Left, int Right, int Size), (float Score, int Left)>(PairOrder.Instance);
        void Consider(int left, int right)
        {
            if (left < 0 || right < 0)
            {
                return;
            }
            var size = length[left] + length[right];
            if (mergeable.TryGetValue(text.AsSpan(start[left], size), out var merged))
            {
                agenda.Enqueue((left, right, size), (merged.Score, left));
            }
        }
        for (var i = 0; i + 1 < count; i++)
        {
            Consider(i, i + 1);
        }
        while (agenda.TryDequeue(out var pair, out _))
        {
            var (left, right, size) = pair;
            // Skip pairs made stale by an earlier merge of either symbol.
            if (length[left] == 0 || length[right] == 0 || next[left] != right || length[left] + length[right] != size)
            {
                continue;
            }
            length[left] = size;
            length[right] = 0;
            next[left] = next[right];
            if (next[right] >= 0)
            {
                previous[next[right]] = left;
            }
            Consider(previous[left], left);
            Consider(left, next[left]);
        }
        for (var i = 0; i >= 0 && i < count; i = next[i])
        {
            var piece = text.Substring(start[i], length[i]);
            if (_final.TryGetValue(piece, out var id))
            {
                ids.Add(id);
            }
            else if (_byteIds is not null)
            {
                ids.AddRange(Encoding.UTF8.GetBytes(piece).Select(b => _byteIds[b]));
            }
            else
            {
                ids.Add(_unkId);
            }
        }
    }

    private int? UserDefinedAt(string text, int position)
    {
        foreach (var piece in _userDefined)
        {
            if (string.CompareOrdinal(text, position, piece, 0, piece.Length) == 0 && position + piece.Length <= text.Length)
            {
                return piece.Length;
            }
        }
        return null;
    }

    /// <summary>Highest score first; on equal scores the leftmost pair, as sentencepiece's agenda orders them.</summary>
    private sealed class PairOrder : IComparer<(float Score, int Left)>
    {
        public static readonly PairOrder Instance = new();

        public int Compare((float Score, int Left) x, (float Score, int Left) y) =>
            x.Score != y.Score ? y.Score.CompareTo(x.Score) : x.Left.CompareTo(y.Left);
    }
}
