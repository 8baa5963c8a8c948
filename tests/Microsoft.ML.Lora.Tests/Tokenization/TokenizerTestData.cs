using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.Tokenization;

/// <summary>Shared real data for the tokenizer tests: texts from ../shared/data and tokenizers loaded once.</summary>
internal static class TokenizerTestData
{
    private static readonly Lazy<IReadOnlyList<string>> Sst2TrainLines = new(() => ReadSst2("datasets/sst2/train.tsv"));
    private static readonly Lazy<IReadOnlyList<string>> E2eLines = new(ReadE2e);

    /// <summary>All 1,000 SST-2 training sentences.</summary>
    public static IReadOnlyList<string> Sst2Train => Sst2TrainLines.Value;

    /// <summary>E2E validation lines, meaning representation and reference as separate texts (with '£' and 'é').</summary>
    public static IReadOnlyList<string> E2e => E2eLines.Value;

    /// <summary>Texts beyond SST-2's lower-cased, space-tokenized style: case, digits, symbols, emoji, CJK, whitespace runs.</summary>
    public static IReadOnlyList<string> Varied { get; } =
    [
        "Hello world",
        "Héllo, wörld! $5 a_b a+b 😀 £3",
        "  multiple   spaces\there\nline\n\nbreak",
        "Once upon a time, there was a little girl named Lily.",
        "ahhhh!!!! ... Ffffffffff. 2024-01-15 12345678",
        "Café naïve résumé 東京 한국어",
        "I'm sure you've seen it, haven't you? They'll know.",
    ];

    public static readonly Lazy<TextTokenizer> Gpt2 = new(() => TokenizerLoader.FromFolder(SharedData.PathOf("tokenizers/gpt2")));
    public static readonly Lazy<TextTokenizer> Gpt2VocabMerges = new(() => FromSelectedFiles("tokenizers/gpt2", "vocab.json", "merges.txt"));
    public static readonly Lazy<TextTokenizer> Llama2 = new(() => TokenizerLoader.FromFolder(SharedData.PathOf("tokenizers/llama2")));
    public static readonly Lazy<TextTokenizer> BertVocabTxt = new(() => TokenizerLoader.FromFolder(SharedData.PathOf("tokenizers/bert-base-uncased")));
    public static readonly Lazy<TextTokenizer> DistilBert = new(() => FromSelectedFiles("adapters/peft-distilbert-imdb", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"));
    public static readonly Lazy<byte[]> Tok512Model = new(() => Llama2cTokenizerConverter.Convert(SharedData.PathOf("models/stories260K/tok512.bin")));

    /// <summary>A tokenizer from some of a shared folder's files only (e.g. vocab.json + merges.txt without tokenizer.json).</summary>
    public static TextTokenizer FromSelectedFiles(string folder, params string[] names) =>
        TokenizerLoader.FromFiles(names.ToDictionary(name => name, name => File.ReadAllBytes(SharedData.PathOf($"{folder}/{name}"))));

    /// <summary>Kind, vocabulary size, BOS, EOS, UNK and whether BOS starts model inputs, for one-line comparisons.</summary>
    public static (string Kind, int VocabularySize, int? Bos, int? Eos, int? Unk, bool AddBos) Summary(TextTokenizer tokenizer) =>
        (tokenizer.Kind, tokenizer.VocabularySize, tokenizer.BosId, tokenizer.EosId, tokenizer.UnkId, tokenizer.AddBos);

    private static List<string> ReadSst2(string relative) =>
        File.ReadLines(SharedData.PathOf(relative)).Skip(1).Select(line => line.Split('\t')[0]).Where(s => s.Length > 0).ToList();

    private static List<string> ReadE2e() =>
        File.ReadLines(SharedData.PathOf("datasets/e2e/valid.txt"))
            .SelectMany(line => line.Split("||"))
            .Select(text => text.Trim())
            .Where(text => text.Length > 0)
            .ToList();
}
