using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.Tokenization;

public class SentencePieceTokenizerTests
{
    private static readonly Lazy<ReferenceSentencePieceBpe> Llama2Reference = new(() =>
        ReferenceSentencePieceBpe.FromModel(File.ReadAllBytes(SharedData.PathOf("tokenizers/llama2/tokenizer.model"))));

    [Fact]
    public void Llama2TokenizerModelLoadsWithLlamaSpecialTokens()
    {
        var llama = TokenizerTestData.Llama2.Value;
        Assert.Equal(("sentencepiece", 32000, 1, 2, 0, true), TokenizerTestData.Summary(llama));
        Assert.Equal("<s>", llama.IdToToken(1));
        Assert.Equal("<0x0A>", llama.IdToToken(13));
    }

    [Fact]
    public void EncodesKnownStringToTheIdsOfItsPieces()
    {
        var llama = TokenizerTestData.Llama2.Value;
        var ids = llama.Encode("Hello world");
        Assert.Equal([llama.TokenToId("▁Hello")!.Value, llama.TokenToId("▁world")!.Value], ids);
        Assert.Equal([15043, 3186], ids);
        Assert.Equal([1, 15043, 3186], llama.EncodeForModel("Hello world"));
        // A newline has no piece: byte fallback spells it <0x0A>.
        Assert.Equal([llama.TokenToId("▁a")!.Value, llama.TokenToId("<0x0A>")!.Value, llama.TokenToId("b")!.Value], llama.Encode("a\nb"));
    }

    [Theory]
    [InlineData("ahhhh ... revenge is sweet !")]
    [InlineData("Ffffffffff. Alright!!!! Sooooo goooood")]
    [InlineData("Mmmmmm    four spaces")]
    public void BreaksScoreTiesTowardsTheLeftLikeSentencePiece(string text)
    {
        // Microsoft.ML.Tokenizers 2.0.1 merges the rightmost of equal-scoring pairs; sentencepiece and llama2.c the leftmost.
        var llama = TokenizerTestData.Llama2.Value;
        Assert.Equal(Llama2Reference.Value.Encode(text), llama.Encode(text));
    }

    [Fact]
    public void AgreesWithTheReferenceMergeAlgorithmAndRoundTrips()
    {
        var llama = TokenizerTestData.Llama2.Value;
        var texts = TokenizerTestData.Sst2Train.Take(300).Concat(TokenizerTestData.E2e.Take(200)).Concat(TokenizerTestData.Varied).ToList();
        foreach (var text in texts)
        {
            var ids = llama.Encode(text);
            Assert.Equal(Llama2Reference.Value.Encode(text), ids);
            Assert.Equal(text, llama.Decode(ids));
            Assert.Equal(text, llama.Decode(llama.EncodeForModel(text)));
        }
    }
}
