using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.Tokenization;

public class Llama2cTokenizerConverterTests
{
    private static readonly Lazy<ReferenceSentencePieceBpe> Reference = new(() =>
        ReferenceSentencePieceBpe.FromLlama2cFile(SharedData.PathOf("models/stories260K/tok512.bin")));

    private static TextTokenizer Tok512() =>
        TokenizerLoader.FromFiles(new Dictionary<string, byte[]> { [TokenizerFileNames.SentencePieceModel] = TokenizerTestData.Tok512Model.Value });

    [Fact]
    public void ConvertedModelLoadsWithLlama2cSpecialTokens()
    {
        var tokenizer = Tok512();
        Assert.Equal(("sentencepiece", 512, 1, 2, 0, true), TokenizerTestData.Summary(tokenizer));
        Assert.Equal("<0x00>", tokenizer.IdToToken(3));
        Assert.Equal("<0xFF>", tokenizer.IdToToken(258));
        Assert.Equal("▁t", tokenizer.IdToToken(259)); // " t" in the export
    }

    [Fact]
    public void EncodingAgreesWithLlama2csMergeByScore()
    {
        var tokenizer = Tok512();
        var texts = TokenizerTestData.Sst2Train.Take(40)
            .Concat(TokenizerTestData.E2e.Where(t => t.Contains('£') || t.Contains('é')).Take(20))
            .Concat(TokenizerTestData.Varied)
            .ToList();
        foreach (var text in texts)
        {
            Assert.Equal(Reference.Value.Encode(text), tokenizer.Encode(text));
        }
    }

    [Fact]
    public void DecodingAfterBosRoundTripsAndDropsTheDummySpace()
    {
        var tokenizer = Tok512();
        const string story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
        var input = tokenizer.EncodeForModel(story);
        Assert.Equal(1, input[0]);
        Assert.Equal(story, tokenizer.Decode(input));
        foreach (var text in TokenizerTestData.E2e.Take(100).Concat(TokenizerTestData.Varied))
        {
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Fact]
    public void ConvertToFolderWritesATokenizerModelTheLoaderFinds()
    {
        var folder = Directory.CreateTempSubdirectory("tok512-");
        try
        {
            var path = Llama2cTokenizerConverter.ConvertToFolder(SharedData.PathOf("models/stories260K/tok512.bin"), folder.FullName);
            Assert.Equal(Path.Combine(folder.FullName, "tokenizer.model"), path);
            Assert.Equal(TokenizerTestData.Tok512Model.Value, File.ReadAllBytes(path));
            var tokenizer = TokenizerLoader.FromFolder(folder.FullName);
            Assert.Equal(Tok512().Encode("The cat sat."), tokenizer.Encode("The cat sat."));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void BadFilesRaiseInvalidTokenizerExceptionNamingTheFile()
    {
        var folder = Directory.CreateTempSubdirectory("tok512-bad-");
        try
        {
            var original = File.ReadAllBytes(SharedData.PathOf("models/stories260K/tok512.bin"));
            var truncated = Path.Combine(folder.FullName, "truncated.bin");
            File.WriteAllBytes(truncated, original[..(original.Length - 3)]);
            var notLlama2c = Path.Combine(folder.FullName, "zeros.bin");
            File.WriteAllBytes(notLlama2c, new byte[64]);
            var missing = Path.Combine(folder.FullName, "missing.bin");

            foreach (var (path, problem) in new[] { (truncated, "truncated"), (notLlama2c, "max_token_length"), (missing, "does not exist") })
            {
                var error = Assert.Throws<InvalidTokenizerException>(() => Llama2cTokenizerConverter.Convert(path));
                Assert.Equal(path, error.TokenizerSource);
                Assert.Contains(problem, error.Message);
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
