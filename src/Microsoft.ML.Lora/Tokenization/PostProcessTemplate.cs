using System.Text.Json;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>One element of a framing template: a special token id, or the text of segment 0 or 1.</summary>
/// <param name="SpecialId">The special token's id, or null for a text segment.</param>
/// <param name="Segment">Which text this element stands for (0 = first, 1 = second) when it is not a special token.</param>
/// <param name="TypeId">The token type id its tokens get.</param>
internal readonly record struct TemplatePiece(int? SpecialId, int Segment, int TypeId)
{
    public static TemplatePiece Special(int id, int typeId = 0) => new(id, 0, typeId);

    public static TemplatePiece Text(int segment, int typeId) => new(null, segment, typeId);
}

/// <summary>
/// How a model frames one text or a pair with special tokens (HF's post-processor): "[CLS] A [SEP]",
/// "&lt;s&gt; A", or just "A".
/// </summary>
internal sealed class PostProcessTemplate(IReadOnlyList<TemplatePiece> single, IReadOnlyList<TemplatePiece> pair)
{
    public IReadOnlyList<TemplatePiece> Single { get; } = single;

    public IReadOnlyList<TemplatePiece> Pair { get; } = pair;

    /// <summary>The text alone, and the two texts one after the other (GPT-2's framing).</summary>
    public static PostProcessTemplate Plain { get; } = new([TemplatePiece.Text(0, 0)], [TemplatePiece.Text(0, 0), TemplatePiece.Text(1, 1)]);

    /// <summary>"[CLS] A [SEP]" and "[CLS] A [SEP] B [SEP]" with B typed 1 (BERT); RoBERTa doubles the middle separator.</summary>
    public static PostProcessTemplate Encoder(int cls, int sep, bool doubleSeparator = false)
    {
        var pair = new List<TemplatePiece> { TemplatePiece.Special(cls), TemplatePiece.Text(0, 0), TemplatePiece.Special(sep) };
        if (doubleSeparator)
        {
            pair.Add(TemplatePiece.Special(sep, 1));
        }
        pair.AddRange([TemplatePiece.Text(1, 1), TemplatePiece.Special(sep, 1)]);
        return new([TemplatePiece.Special(cls), TemplatePiece.Text(0, 0), TemplatePiece.Special(sep)], pair);
    }

    /// <summary>Optional BOS before and EOS after each text (SentencePiece Llama: BOS A, BOS A BOS B).</summary>
    public static PostProcessTemplate Decoder(int? bos, int? eos)
    {
        List<TemplatePiece> Frame(int segment)
        {
            var pieces = new List<TemplatePiece>();
            if (bos is { } b)
            {
                pieces.Add(TemplatePiece.Special(b, segment));
            }
            pieces.Add(TemplatePiece.Text(segment, segment));
            if (eos is { } e)
            {
                pieces.Add(TemplatePiece.Special(e, segment));
            }
            return pieces;
        }
        return new(Frame(0), [.. Frame(0), .. Frame(1)]);
    }

    /// <summary>The first special id of the single-text template, if it starts with one.</summary>
    public int? LeadingSpecialId => Single.Count > 0 ? Single[0].SpecialId : null;

    public IReadOnlyList<int> FrameSingle(IReadOnlyList<int> text) => Apply(Single, text, []).Ids;

    public EncodedInput FramePair(IReadOnlyList<int> first, IReadOnlyList<int> second) => Apply(Pair, first, second);

    private static EncodedInput Apply(IReadOnlyList<TemplatePiece> template, IReadOnlyList<int> first, IReadOnlyList<int> second)
    {
        var ids = new List<int>(first.Count + second.Count + template.Count);
        var types = new List<int>(ids.Capacity);
        foreach (var piece in template)
        {
            if (piece.SpecialId is { } id)
            {
                ids.Add(id);
                types.Add(piece.TypeId);
                continue;
            }
            var text = piece.Segment == 0 ? first : second;
            ids.AddRange(text);
            types.AddRange(Enumerable.Repeat(piece.TypeId, text.Count));
        }
        return new EncodedInput(ids, types);
    }

    /// <summary>
    /// Reads a tokenizer.json post_processor (TemplateProcessing, BertProcessing, RobertaProcessing,
    /// ByteLevel, or a Sequence of those); null when it does not frame texts with special tokens.
    /// </summary>
    public static PostProcessTemplate? FromTokenizerJson(JsonElement? processor, string source)
    {
        if (processor is not { } p)
        {
            return null;
        }
        var type = JsonFields.String(p, "type", source);
        switch (type)
        {
            case "ByteLevel":
                return null;
            case "Sequence":
                return JsonFields.Array(p, "processors", source).Select(step => FromTokenizerJson(step, source)).LastOrDefault(t => t is not null);
            case "BertProcessing":
            case "RobertaProcessing":
                return Encoder(PairId(p, "cls", source), PairId(p, "sep", source), doubleSeparator: type == "RobertaProcessing");
            case "TemplateProcessing":
                var specialIds = SpecialIds(p, source);
                return new(Pieces(p, "single", specialIds, source), Pieces(p, "pair", specialIds, source));
            default:
                throw new InvalidTokenizerException(source, $"post_processor type '{type}' is not supported (supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence).");
        }
    }

    private static int PairId(JsonElement processor, string name, string source) =>
        JsonFields.Member(processor, name) is { ValueKind: JsonValueKind.Array } pair && pair.GetArrayLength() == 2 && pair[1].TryGetInt32(out var id)
            ? id
            : throw new InvalidTokenizerException(source, $"post_processor '{name}' must be [token, id].");

    private static Dictionary<string, int[]> SpecialIds(JsonElement processor, string source)
    {
        var ids = new Dictionary<string, int[]>(StringComparer.Ordinal);
        if (JsonFields.Member(processor, "special_tokens") is { ValueKind: JsonValueKind.Object } tokens)
        {
            foreach (var token in tokens.EnumerateObject())
            {
                ids[token.Name] = JsonFields.Member(token.Value, "ids") is { ValueKind: JsonValueKind.Array } list
                    ? list.EnumerateArray().Select(e => e.TryGetInt32(out var id) ? id : throw new InvalidTokenizerException(source, $"post_processor special token '{token.Name}' has a non-integer id.")).ToArray()
                    : throw new InvalidTokenizerException(source, $"post_processor special token '{token.Name}' has no 'ids'.");
            }
        }
        return ids;
    }

    private static List<TemplatePiece> Pieces(JsonElement processor, string name, Dictionary<string, int[]> specialIds, string source)
    {
        if (JsonFields.Member(processor, name) is not { ValueKind: JsonValueKind.Array } items)
        {
            throw new InvalidTokenizerException(source, $"post_processor TemplateProcessing has no '{name}' template.");
        }
        var pieces = new List<TemplatePiece>();
        foreach (var item in items.EnumerateArray())
        {
            if (JsonFields.Member(item, "SpecialToken") is { } special)
            {
                var token = JsonFields.String(special, "id", source) ?? "";
                var typeId = JsonFields.Int(special, "type_id", source) ?? 0;
                if (!specialIds.TryGetValue(token, out var ids))
                {
                    throw new InvalidTokenizerException(source, $"post_processor template uses '{token}', which its special_tokens do not define.");
                }
                pieces.AddRange(ids.Select(id => TemplatePiece.Special(id, typeId)));
            }
            else if (JsonFields.Member(item, "Sequence") is { } sequence)
            {
                var segment = JsonFields.String(sequence, "id", source) == "B" ? 1 : 0;
                pieces.Add(TemplatePiece.Text(segment, JsonFields.Int(sequence, "type_id", source) ?? 0));
            }
            else
            {
                throw new InvalidTokenizerException(source, $"post_processor template item {item} is neither SpecialToken nor Sequence.");
            }
        }
        return pieces;
    }
}
