using System.Text.Json;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// Builds a <see cref="TextTokenizer"/> from a Hugging Face model folder or from the files a
/// tokenizer's <see cref="TextTokenizer.Files"/> returned (as a model zip stores them).
/// </summary>
/// <remarks>
/// Detection order: tokenizer.json when its model is byte-level BPE (GPT-2, Qwen2, Llama 3, SmolLM,
/// RoBERTa) or WordPiece (BERT, DistilBERT); otherwise tokenizer.model (SentencePiece: Llama 2,
/// Mistral, TinyLlama), which also wins over a SentencePiece-style tokenizer.json; then
/// vocab.json + merges.txt (GPT-2 BPE); then vocab.txt (WordPiece). Special tokens come from
/// special_tokens_map.json, tokenizer_config.json, the tokenizer's own defaults, and last
/// generation_config.json / config.json ids.
/// </remarks>
public static class TokenizerLoader
{
    /// <summary>Loads the tokenizer of a model folder.</summary>
    /// <exception cref="InvalidTokenizerException">The folder is missing, has no tokenizer file, or one is malformed or unsupported.</exception>
    public static TextTokenizer FromFolder(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
        {
            throw new InvalidTokenizerException(directory, "the folder does not exist.");
        }
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in TokenizerFileNames.All)
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                files[name] = File.ReadAllBytes(path);
            }
        }
        return Load(new TokenizerFileSet(files, directory));
    }

    /// <summary>Rebuilds a tokenizer from files by name (what <see cref="TextTokenizer.Files"/> returns).</summary>
    /// <exception cref="InvalidTokenizerException">No tokenizer file is among them, or one is malformed or unsupported.</exception>
    public static TextTokenizer FromFiles(IReadOnlyDictionary<string, byte[]> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        return Load(new TokenizerFileSet(files, folder: null));
    }

    private static TextTokenizer Load(TokenizerFileSet files)
    {
        var settings = TokenizerSettings.Read(files);
        if (files.Has(TokenizerFileNames.TokenizerJson))
        {
            var source = files.SourceOf(TokenizerFileNames.TokenizerJson);
            var root = files.Json(TokenizerFileNames.TokenizerJson);
            var modelType = TokenizerJson.ModelType(root, source);
            if (modelType == "WordPiece")
            {
                return WordPieceTextTokenizer.Create(WordPieceReaders.FromTokenizerJson(root, source), settings, Keep(files, settings, TokenizerFileNames.TokenizerJson));
            }
            if (modelType == "BPE" && TokenizerJson.IsByteLevel(root))
            {
                return ByteLevelBpeTextTokenizer.Create(TokenizerJsonBpe.Read(root, source), settings, Keep(files, settings, TokenizerFileNames.TokenizerJson));
            }
            if (!files.Has(TokenizerFileNames.SentencePieceModel))
            {
                var kind = modelType == "BPE" ? "BPE without a byte-level pre-tokenizer (SentencePiece-style)" : $"'{modelType}'";
                throw new InvalidTokenizerException(source, $"tokenizer model {kind} is not supported. Supported: byte-level BPE and WordPiece tokenizer.json, " +
                    "SentencePiece tokenizer.model (put it beside this file), vocab.json + merges.txt, vocab.txt.");
            }
        }
        if (files.Has(TokenizerFileNames.SentencePieceModel))
        {
            return SentencePieceTextTokenizer.Create(
                files.Bytes(TokenizerFileNames.SentencePieceModel),
                files.SourceOf(TokenizerFileNames.SentencePieceModel),
                settings,
                settings.AddedTokens,
                Keep(files, settings, TokenizerFileNames.SentencePieceModel));
        }
        if (files.Has(TokenizerFileNames.VocabJson))
        {
            return ByteLevelBpeTextTokenizer.Create(Gpt2Definition(files, settings), settings, Keep(files, settings, TokenizerFileNames.VocabJson, TokenizerFileNames.MergesTxt));
        }
        if (files.Has(TokenizerFileNames.VocabTxt))
        {
            var definition = WordPieceReaders.FromVocabTxt(files.Text(TokenizerFileNames.VocabTxt), files.SourceOf(TokenizerFileNames.VocabTxt), settings);
            return WordPieceTextTokenizer.Create(definition, settings, Keep(files, settings, TokenizerFileNames.VocabTxt));
        }
        throw new InvalidTokenizerException(files.Origin, "no tokenizer found: expected tokenizer.json, tokenizer.model, vocab.json + merges.txt, or vocab.txt.");
    }

    /// <summary>GPT-2's vocab.json + merges.txt with GPT-2's ByteLevel pre-tokenizer.</summary>
    private static ByteLevelBpeDefinition Gpt2Definition(TokenizerFileSet files, TokenizerSettings settings)
    {
        var vocabSource = files.SourceOf(TokenizerFileNames.VocabJson);
        if (!files.Has(TokenizerFileNames.MergesTxt))
        {
            throw new InvalidTokenizerException(files.SourceOf(TokenizerFileNames.MergesTxt), "the file is missing; a BPE vocab.json needs its merges.txt.");
        }
        return new ByteLevelBpeDefinition(
            vocabSource,
            BpeFileReaders.ReadVocabulary(files.Json(TokenizerFileNames.VocabJson), vocabSource),
            BpeFileReaders.ReadMergesText(files.Text(TokenizerFileNames.MergesTxt), files.SourceOf(TokenizerFileNames.MergesTxt)),
            settings.AddedTokens,
            Normalize: null,
            [SplitSequencePreTokenizer.Compile(SplitSequencePreTokenizer.Gpt2Pattern)],
            AddPrefixSpace: false,
            IgnoreMerges: false,
            UnknownToken: null,
            Template: null);
    }

    /// <summary>
    /// The files that rebuild the tokenizer: its model files and tokenizer configs as they were, plus
    /// the token ids read from config.json / generation_config.json, kept as a generation_config.json
    /// of those ids alone (config.json itself belongs to the model).
    /// </summary>
    private static Dictionary<string, byte[]> Keep(TokenizerFileSet files, TokenizerSettings settings, params string[] modelFiles)
    {
        var kept = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in modelFiles.Append(TokenizerFileNames.TokenizerConfig).Append(TokenizerFileNames.SpecialTokensMap).Append(TokenizerFileNames.ChatTemplateJinja))
        {
            if (files.Has(name))
            {
                kept[name] = files.Bytes(name);
            }
        }
        var ids = new[] { "bos_token", "eos_token", "pad_token" }
            .Select(role => (Role: role, Id: settings.ModelId(role)))
            .Where(entry => entry.Id is not null)
            .ToList();
        if (ids.Count > 0)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                writer.WriteStartObject();
                foreach (var (role, id) in ids)
                {
                    writer.WriteNumber(role + "_id", id!.Value.Value);
                }
                writer.WriteEndObject();
            }
            kept[TokenizerFileNames.GenerationConfig] = buffer.ToArray();
        }
        return kept;
    }
}
