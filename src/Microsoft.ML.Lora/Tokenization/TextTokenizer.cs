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

    /// <summary>Whether sequences start with BOS (Llama: yes; GPT-2: no).</summary>
    public abstract bool AddBos { get; }

    /// <summary>Vocabulary size including added tokens.</summary>
    public abstract int VocabularySize { get; }

    /// <summary>A short name of the tokenizer kind, for reports ("sentencepiece", "bpe", "wordpiece").</summary>
    public abstract string Kind { get; }

    /// <summary>The files that rebuild this tokenizer, by file name (e.g. tokenizer.json, tokenizer.model).</summary>
    public abstract IReadOnlyDictionary<string, byte[]> Files { get; }

    /// <summary>Ids for a model input: BOS (when the model uses it) then the text's tokens.</summary>
    public IReadOnlyList<int> EncodeForModel(string text)
    {
        var ids = Encode(text);
        if (!AddBos || BosId is not { } bos)
        {
            return ids;
        }
        var withBos = new List<int>(ids.Count + 1) { bos };
        withBos.AddRange(ids);
        return withBos;
    }
}
