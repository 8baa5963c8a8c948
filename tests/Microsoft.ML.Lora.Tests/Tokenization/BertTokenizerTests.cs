using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.Tokenization;

public class BertTokenizerTests
{
    private static readonly Lazy<string[]> VocabLines = new(() =>
        File.ReadAllLines(SharedData.PathOf("adapters/peft-distilbert-imdb/vocab.txt")));

    /// <summary>A token's id as vocab.txt spells it: its line number.</summary>
    private static int LineOf(string token) => Array.IndexOf(VocabLines.Value, token);

    public static TheoryData<string> Kinds => new() { "vocab.txt", "tokenizer.json" };

    private static TextTokenizer Of(string kind) =>
        kind == "vocab.txt" ? TokenizerTestData.BertVocabTxt.Value : TokenizerTestData.DistilBert.Value;

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EncodesKnownWordsToTheirVocabularyLines(string kind)
    {
        var bert = Of(kind);
        Assert.Equal([LineOf("hello"), LineOf("world")], bert.Encode("Hello world"));
        Assert.Equal([7592, 2088], bert.Encode("hello world"));
        Assert.Equal([LineOf("token"), LineOf("##izer")], bert.Encode("tokenizer"));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void FramesInputsAsClsTextSep(string kind)
    {
        var bert = Of(kind);
        int cls = LineOf("[CLS]"), sep = LineOf("[SEP]");
        Assert.Equal([cls, LineOf("hello"), sep], bert.EncodeForModel("hello"));
        var pair = bert.EncodePairForModel("hello", "world");
        Assert.Equal([cls, LineOf("hello"), sep, LineOf("world"), sep], pair.Ids);
        Assert.Equal([0, 0, 0, 1, 1], pair.TokenTypeIds);
        Assert.True(bert.AddBos);
        Assert.Equal(cls, bert.BosId);
        Assert.Equal(sep, bert.EosId);
        Assert.Equal(LineOf("[PAD]"), bert.PadId);
        Assert.Equal(LineOf("[UNK]"), bert.UnkId);
        Assert.Equal(30522, bert.VocabularySize);
        Assert.Equal("wordpiece", bert.Kind);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void NormalizesAndSplitsAsHuggingFaceBert(string kind)
    {
        var bert = Of(kind);
        // Uncased: lower-cased, accents stripped; tabs and newlines separate words.
        Assert.Equal(bert.Encode("hello world"), bert.Encode("HÉLLO\tWörld"));
        Assert.Equal(bert.Encode("a b"), bert.Encode("a\nb"));
        // Every punctuation mark and ASCII symbol is its own word ('$' and '+' are symbols, not punctuation, in Unicode).
        Assert.Equal([LineOf("$"), LineOf("5"), LineOf("a"), LineOf("+"), LineOf("b"), LineOf("a"), LineOf("_"), LineOf("b")], bert.Encode("$5 a+b a_b"));
        // Unknown words become [UNK] instead of vanishing.
        Assert.Equal([LineOf("[UNK]")], bert.Encode("😀"));
        // Special tokens in text are recognised whole.
        Assert.Equal([LineOf("[MASK]"), LineOf("x"), LineOf("[SEP]")], bert.Encode("[MASK] x [SEP]"));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void DecodesWithWordPieceJoinsAndCleanUp(string kind)
    {
        var bert = Of(kind);
        Assert.Equal("hello, world! i'm a tokenizer.", bert.Decode(bert.EncodeForModel("Hello, world! I'm a tokenizer.")));
        var plain = TokenizerTestData.Sst2Train.Where(s => s.All(c => char.IsAsciiLetterLower(c) || c is ' ' or ',' or '.')).ToList();
        Assert.True(plain.Count > 100);
        Assert.All(plain,
            sentence => Assert.Equal(sentence.Replace(" .", ".").Replace(" ,", ",").Trim(), bert.Decode(bert.Encode(sentence))));
    }

    [Fact]
    public void BertVocabTxtAndDistilBertTokenizerJsonAgreeOnSst2()
    {
        var vocabTxt = TokenizerTestData.BertVocabTxt.Value;
        var tokenizerJson = TokenizerTestData.DistilBert.Value;
        // The shared bert-base-uncased/vocab.txt has its non-ASCII entries double-encoded (mojibake) and a
        // BOM; its ASCII entries equal distilbert's. So sentences whose tokens are all ASCII must agree.
        var compared = 0;
        foreach (var sentence in TokenizerTestData.Sst2Train.Concat(TokenizerTestData.Varied))
        {
            var expected = tokenizerJson.Encode(sentence);
            if (expected.All(id => tokenizerJson.IdToToken(id)!.All(char.IsAscii)))
            {
                Assert.Equal(expected, vocabTxt.Encode(sentence));
                compared++;
            }
        }
        Assert.True(compared >= 995, $"only {compared} sentences compared");
    }

    [Fact]
    public void VocabTxtWithoutConfigIsDetectedAsUncased()
    {
        var bert = TokenizerTestData.BertVocabTxt.Value;
        Assert.Equal(bert.Encode("the movie"), bert.Encode("THE Movie"));
    }
}
