namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// The tokenizer a model is trained and scored with: a Microsoft.ML.Tokenizers tokenizer plus the
/// special token ids the model expects, and the files it was built from (so a model zip can carry
/// it and rebuild it without the original folder).
/// </summary>
public abstract class TextTokenizer
{
    /// <summary>Token ids for a text, without special tokens.</summary>
    public abstract IReadOnlyList<int> Encode(string text);

    /// <summary>Text for token ids (special tokens skipped).</summary>
    public abstract string Decode(IEnumerable<int> ids);

    /// <summary>Beginning-of-sequence id, or null.</summary>
    public abstract int? BosId { get; }

    /// <summary>End-of-sequence id, or null.</summary>
    public abstract int? EosId { get; }

    /// <summary>Padding id (falls back to EOS, then 0, as HF training scripts do).</summary>
    public virtual int PadId => EosId ?? 0;

    /// <summary>Unknown-token id, or null when the vocabulary has none (byte-level BPE never needs one).</summary>
    public virtual int? UnkId => null;

    /// <summary>Whether sequences start with BOS (Llama: yes; GPT-2: no; BERT: yes, BOS being [CLS]).</summary>
    public abstract bool AddBos { get; }

    /// <summary>Vocabulary size including added tokens.</summary>
    public abstract int VocabularySize { get; }

    /// <summary>A short name of the tokenizer kind, for reports ("sentencepiece", "bpe", "wordpiece").</summary>
    public abstract string Kind { get; }

    /// <summary>The files that rebuild this tokenizer, by file name (e.g. tokenizer.json, tokenizer.model).</summary>
    public abstract IReadOnlyDictionary<string, byte[]> Files { get; }

    /// <summary>
    /// Whether an id is a special token (BOS, EOS, a chat template's turn markers...): one that decoding skips. Chat
    /// templates end each assistant turn with one, which is how fine-tuning and generation find the turn's end.
    /// </summary>
    public virtual bool IsSpecial(int id) => id == BosId || id == EosId;

    /// <summary>The token string of an id (as the vocabulary spells it, e.g. "Ġworld"), or null if the id is unknown.</summary>
    public abstract string? IdToToken(int id);

    /// <summary>The id of a token string as the vocabulary spells it, or null if it is not in the vocabulary.</summary>
    public abstract int? TokenToId(string token);

    /// <summary>
    /// Ids for a model input, as the model's own tokenizer frames them: BOS then the text (Llama),
    /// the text alone (GPT-2), or [CLS] text [SEP] (BERT).
    /// </summary>
    public IReadOnlyList<int> EncodeForModel(string text) => WrapForModel(Encode(text));

    /// <summary>Model inputs for several texts (each framed as <see cref="EncodeForModel(string)"/> does).</summary>
    public IReadOnlyList<IReadOnlyList<int>> EncodeBatchForModel(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return texts.Select(EncodeForModel).ToList();
    }

    /// <summary>
    /// Ids and segment (token type) ids for a sentence pair, framed as the model's tokenizer does:
    /// [CLS] a [SEP] b [SEP] with types 0…0 1…1 for BERT. Decoder-only models ignore the types.
    /// </summary>
    public virtual EncodedInput EncodePairForModel(string first, string second)
    {
        var a = WrapForModel(Encode(first));
        var b = WrapForModel(Encode(second));
        return EncodedInput.FromSegments(a, b);
    }

    /// <summary>
    /// Frames a text's ids as a model input. The default puts BOS first when <see cref="AddBos"/>;
    /// encoder tokenizers override it to add their closing separator too.
    /// </summary>
    protected virtual IReadOnlyList<int> WrapForModel(IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (!AddBos || BosId is not { } bos)
        {
            return ids;
        }
        var withBos = new List<int>(ids.Count + 1) { bos };
        withBos.AddRange(ids);
        return withBos;
    }
}
