using Microsoft.ML.Tokenizers;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// A SentencePiece tokenizer.model (Llama 2, Mistral, TinyLlama, llama2.c conversions) on
/// Microsoft.ML.Tokenizers' <see cref="SentencePieceTokenizer"/> (the base of <see cref="LlamaTokenizer"/>,
/// which also loads Unigram models). BPE models encode with <see cref="SentencePieceBpeEncoder"/>, which
/// breaks score ties as sentencepiece does. Sequences start with BOS unless tokenizer_config.json says add_bos_token false.
/// </summary>
internal sealed class SentencePieceTextTokenizer : HfTextTokenizer
{
    private readonly SentencePieceTokenizer _model;
    private readonly SentencePieceBpeEncoder? _bpe;
    private readonly Dictionary<int, string> _pieceOfId;

    private SentencePieceTextTokenizer(SentencePieceTokenizer model, SentencePieceBpeEncoder? bpe, TokenizerCommon common)
        : base(common)
    {
        _model = model;
        _bpe = bpe;
        _pieceOfId = model.Vocabulary.ToDictionary(entry => entry.Value, entry => entry.Key);
        OrdinaryVocabularySize = _pieceOfId.Count == 0 ? 0 : _pieceOfId.Keys.Max() + 1;
    }

    /// <inheritdoc/>
    public override string Kind => "sentencepiece";

    /// <inheritdoc/>
    protected override int OrdinaryVocabularySize { get; }

    public static SentencePieceTextTokenizer Create(byte[] modelBytes, string source, TokenizerSettings settings, IReadOnlyList<AddedToken> addedTokens, IReadOnlyDictionary<string, byte[]> files)
    {
        var (pieces, modelType) = SentencePieceModelFile.Read(modelBytes, source);
        SentencePieceTokenizer model;
        try
        {
            using var stream = new MemoryStream(modelBytes, writable: false);
            // BOS/EOS come from the template, not the model, so that Encode gives the text's ids alone.
            // SentencePieceTokenizer.Create covers BPE (what LlamaTokenizer.Create accepts) and Unigram models.
            model = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException)
        {
            throw new InvalidTokenizerException(source, $"not a SentencePiece model Microsoft.ML.Tokenizers can load: {e.Message}", e);
        }

        var bpe = modelType == SentencePieceModelFile.BpeModel ? new SentencePieceBpeEncoder(pieces, model.ByteFallback, model.UnknownId) : null;
        var lookup = Lookup(addedTokens, model.Vocabulary);
        var defaults = new Dictionary<string, string>
        {
            ["bos_token"] = model.BeginningOfSentenceToken,
            ["eos_token"] = model.EndOfSentenceToken,
            ["unk_token"] = model.UnknownToken,
        };
        var vocabularySize = Math.Max(model.Vocabulary.Count, addedTokens.Select(t => t.Id + 1).DefaultIfEmpty(0).Max());
        var roles = SpecialTokenRoles.Resolve(settings, defaults, lookup, addedTokens, vocabularySize);
        var template = PostProcessTemplate.Decoder(
            settings.AddBosToken ?? true ? roles["bos_token"] : null,
            settings.AddEosToken ?? false ? roles["eos_token"] : null);
        return new SentencePieceTextTokenizer(model, bpe, new TokenizerCommon(addedTokens, roles, template, files));
    }

    /// <inheritdoc/>
    protected override void EncodeOrdinary(string text, List<int> ids)
    {
        if (_bpe is null)
        {
            ids.AddRange(_model.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false));
            return;
        }
        _bpe.Encode(_model.Normalizer?.Normalize(text) ?? text, ids);
    }

    /// <inheritdoc/>
    protected override string DecodeOrdinary(IReadOnlyList<int> ids) => _model.Decode(ids, considerSpecialTokens: false);

    /// <inheritdoc/>
    protected override string? OrdinaryIdToToken(int id) => _pieceOfId.TryGetValue(id, out var piece) ? piece : null;

    /// <inheritdoc/>
    protected override int? OrdinaryTokenToId(string token) => _model.Vocabulary.TryGetValue(token, out var id) ? id : null;
}
