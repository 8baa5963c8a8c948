namespace Microsoft.ML.Lora.Tokenization;

/// <summary>A model input: token ids and, for each, the segment it belongs to (BERT's token_type_ids).</summary>
/// <param name="Ids">Token ids including the special tokens that frame the segments.</param>
/// <param name="TokenTypeIds">0 for tokens of the first segment, 1 for the second; same length as <paramref name="Ids"/>.</param>
public sealed record EncodedInput(IReadOnlyList<int> Ids, IReadOnlyList<int> TokenTypeIds)
{
    /// <summary>Joins two framed segments, typing the first 0 and the second 1.</summary>
    public static EncodedInput FromSegments(IReadOnlyList<int> first, IReadOnlyList<int> second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        var ids = new List<int>(first.Count + second.Count);
        ids.AddRange(first);
        ids.AddRange(second);
        var types = new List<int>(ids.Count);
        types.AddRange(Enumerable.Repeat(0, first.Count));
        types.AddRange(Enumerable.Repeat(1, second.Count));
        return new EncodedInput(ids, types);
    }
}
