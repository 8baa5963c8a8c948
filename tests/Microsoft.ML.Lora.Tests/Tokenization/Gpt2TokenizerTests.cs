using System.Text.Json;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.Tokenization;

public class Gpt2TokenizerTests
{
    private static readonly Lazy<Dictionary<string, int>> RawVocab = new(() =>
        JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllBytes(SharedData.PathOf("tokenizers/gpt2/vocab.json")))!);

    private static int Vocab(string token) => RawVocab.Value[token];

    [Fact]
    public void HelloWorldIsGpt2sWellKnownEncoding()
    {
        var gpt2 = TokenizerTestData.Gpt2.Value;
        Assert.Equal([15496, 995], gpt2.Encode("Hello world"));
        Assert.Equal(15496, Vocab("Hello"));
        Assert.Equal(995, Vocab("Ġworld"));
    }

    [Theory]
    [InlineData("Hello, world!", new[] { "Hello", ",", "Ġworld", "!" })]
    [InlineData(" the cat", new[] { "Ġthe", "Ġcat" })]
    [InlineData("I'm here", new[] { "I", "'m", "Ġhere" })]
    [InlineData("2024", new[] { "20", "24" })]
    public void EncodesWholeWordsToTheirVocabularyIds(string text, string[] tokens)
    {
        // Each pre-tokenized word here is itself a vocabulary entry, so BPE must end on it.
        var expected = tokens.Select(Vocab).ToArray();
        Assert.Equal(expected, TokenizerTestData.Gpt2.Value.Encode(text));
        Assert.Equal(expected, TokenizerTestData.Gpt2VocabMerges.Value.Encode(text));
    }

    [Fact]
    public void VocabularyAndSpecialTokensMatchGpt2()
    {
        var gpt2 = TokenizerTestData.Gpt2.Value;
        Assert.Equal(50257, gpt2.VocabularySize);
        Assert.Equal("bpe", gpt2.Kind);
        Assert.Equal(50256, gpt2.BosId);
        Assert.Equal(50256, gpt2.EosId);
        Assert.False(gpt2.AddBos);
        Assert.Equal("Ġworld", gpt2.IdToToken(995));
        Assert.Equal(995, gpt2.TokenToId("Ġworld"));
        Assert.Null(gpt2.TokenToId("not-a-token-at-all"));
        Assert.Equal(gpt2.Encode("Hello world"), gpt2.EncodeForModel("Hello world"));
    }

    [Fact]
    public void EndOfTextInTextIsOneSpecialTokenSkippedWhenDecoding()
    {
        var gpt2 = TokenizerTestData.Gpt2.Value;
        var ids = gpt2.Encode("Hi<|endoftext|>there");
        Assert.Equal([Vocab("Hi"), 50256, Vocab("there")], ids);
        Assert.Equal("Hithere", gpt2.Decode(ids));
    }

    [Fact]
    public void Sst2TrainSentencesRoundTripExactly()
    {
        var gpt2 = TokenizerTestData.Gpt2.Value;
        Assert.Equal(1000, TokenizerTestData.Sst2Train.Count);
        foreach (var sentence in TokenizerTestData.Sst2Train.Concat(TokenizerTestData.Varied))
        {
            Assert.Equal(sentence, gpt2.Decode(gpt2.Encode(sentence)));
        }
    }

    [Fact]
    public void TokenizerJsonAndVocabMergesGiveIdenticalIds()
    {
        var fromJson = TokenizerTestData.Gpt2.Value;
        var fromVocabMerges = TokenizerTestData.Gpt2VocabMerges.Value;
        foreach (var sentence in TokenizerTestData.Sst2Train.Concat(TokenizerTestData.Varied))
        {
            Assert.Equal(fromJson.Encode(sentence), fromVocabMerges.Encode(sentence));
        }
    }

    [Fact]
    public void TinyRandomGpt2TokenizerJsonAndVocabMergesGiveIdenticalIds()
    {
        var folder = TokenizerLoader.FromFolder(SharedData.PathOf("models/tiny-random-gpt2"));
        var vocabMerges = TokenizerTestData.FromSelectedFiles("models/tiny-random-gpt2", "vocab.json", "merges.txt");
        Assert.Equal(1000, folder.VocabularySize);
        var texts = TokenizerTestData.Sst2Train.Concat(TokenizerTestData.E2e.Take(500)).Concat(TokenizerTestData.Varied).ToList();
        var differing = texts.Where(text => !folder.Encode(text).SequenceEqual(vocabMerges.Encode(text))).ToList();
        Assert.Empty(differing);
        // Its 1,000-token vocabulary lacks some bytes (tab, parts of emoji and Hangul), which BPE then drops, as HF does;
        // SST-2 and E2E only use bytes it has.
        Assert.All(texts.Except(TokenizerTestData.Varied), text => Assert.Equal(text, folder.Decode(folder.Encode(text))));
    }

    [Fact]
    public void TinyRandomGpt2TakesSpecialTokensFromTokenizerFilesBeforeConfigJson()
    {
        // config.json says bos/eos/pad 98; the tokenizer's own <|endoftext|> (id 0) wins for bos/eos, as in
        // transformers, and pad, which no tokenizer file names, comes from config.json.
        var tokenizer = TokenizerLoader.FromFolder(SharedData.PathOf("models/tiny-random-gpt2"));
        Assert.Equal(0, tokenizer.BosId);
        Assert.Equal(0, tokenizer.EosId);
        Assert.Equal(98, tokenizer.PadId);
        Assert.NotEmpty(tokenizer.Decode([98])); // a model setting, still an ordinary token
        Assert.Empty(tokenizer.Decode([0])); // special, skipped
    }
}
