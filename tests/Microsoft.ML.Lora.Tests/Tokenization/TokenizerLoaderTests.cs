using System.Text;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.Tokenization;

public class TokenizerLoaderTests
{
    public static TheoryData<string> Kinds => new() { "gpt2 tokenizer.json", "gpt2 vocab.json", "tiny-random-gpt2", "distilbert", "bert vocab.txt", "llama2", "tok512", "synthetic" };

    private static TextTokenizer Build(string kind) => kind switch
    {
        "gpt2 tokenizer.json" => TokenizerTestData.Gpt2.Value,
        "gpt2 vocab.json" => TokenizerTestData.Gpt2VocabMerges.Value,
        "tiny-random-gpt2" => TokenizerLoader.FromFolder(SharedData.PathOf("models/tiny-random-gpt2")),
        "distilbert" => TokenizerLoader.FromFolder(SharedData.PathOf("adapters/peft-distilbert-imdb")),
        "bert vocab.txt" => TokenizerTestData.BertVocabTxt.Value,
        "llama2" => TokenizerTestData.Llama2.Value,
        "tok512" => TokenizerLoader.FromFiles(new Dictionary<string, byte[]> { ["tokenizer.model"] = TokenizerTestData.Tok512Model.Value }),
        _ => TokenizerLoader.FromFiles(new SyntheticTokenizerJson("a b").AddToken("<s>", 300, special: true).Files("""{"bos_token": "<s>", "add_bos_token": true}""")),
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void FromFilesOfFilesRebuildsAnIdenticalTokenizer(string kind)
    {
        var original = Build(kind);
        var rebuilt = TokenizerLoader.FromFiles(original.Files);
        Assert.Equal(original.Kind, rebuilt.Kind);
        Assert.Equal(original.VocabularySize, rebuilt.VocabularySize);
        Assert.Equal((original.BosId, original.EosId, original.PadId, original.UnkId, original.AddBos), (rebuilt.BosId, rebuilt.EosId, rebuilt.PadId, rebuilt.UnkId, rebuilt.AddBos));
        foreach (var text in TokenizerTestData.Sst2Train.Take(100).Concat(TokenizerTestData.Varied).Append("ab <s>ab"))
        {
            var ids = original.EncodeForModel(text);
            Assert.Equal(ids, rebuilt.EncodeForModel(text));
            Assert.Equal(original.Decode(ids), rebuilt.Decode(ids));
        }
        Assert.DoesNotContain("config.json", original.Files.Keys);
    }

    [Fact]
    public void DistilBertFolderUsesTokenizerJsonAndKeepsItsConfigs()
    {
        var tokenizer = TokenizerLoader.FromFolder(SharedData.PathOf("adapters/peft-distilbert-imdb"));
        Assert.Equal("wordpiece", tokenizer.Kind);
        Assert.Equal(["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"], tokenizer.Files.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ModelConfigIdsTravelAsGenerationConfig()
    {
        var tokenizer = TokenizerLoader.FromFolder(SharedData.PathOf("models/tiny-random-gpt2"));
        var generationConfig = Encoding.UTF8.GetString(tokenizer.Files["generation_config.json"]);
        Assert.Contains("\"pad_token_id\": 98", generationConfig);
    }

    [Fact]
    public void E013_MissingTokenizerFolderOrFilesAreNamed()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-folder-" + Guid.NewGuid());
        Assert.Equal(missing, Assert.Throws<InvalidTokenizerException>(() => TokenizerLoader.FromFolder(missing)).TokenizerSource);

        var empty = Directory.CreateTempSubdirectory("tok-empty-");
        try
        {
            var error = Assert.Throws<InvalidTokenizerException>(() => TokenizerLoader.FromFolder(empty.FullName));
            Assert.Equal(empty.FullName, error.TokenizerSource);
            Assert.Contains("tokenizer.json", error.Message);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {", "invalid JSON")]
    [InlineData("tokenizer.json", "[1, 2]", "JSON object")]
    [InlineData("tokenizer.model", "this is not a protobuf", "SentencePiece")]
    [InlineData("tokenizer.model", "", "no pieces")]
    [InlineData("tokenizer.model", "\n\u0005\n\u0001a\u0018\u0001", "no trainer_spec")]
    [InlineData("vocab.json", "{\"a\": 0}", "merges.txt")]
    [InlineData("vocab.json", "{\"a\": \"zero\"}", "not a non-negative integer")]
    [InlineData("vocab.json", "{\"a\": 2147483647}", "not a non-negative integer")]
    [InlineData("vocab.txt", "", "empty")]
    public void E014_CorruptTokenizerJsonRaisesInvalidTokenizerExceptionNamingTheFile(string name, string content, string problem)
    {
        var folder = Directory.CreateTempSubdirectory("tok-corrupt-");
        try
        {
            File.WriteAllText(Path.Combine(folder.FullName, name), content);
            if (name == "vocab.json" && problem != "merges.txt")
            {
                File.WriteAllText(Path.Combine(folder.FullName, "merges.txt"), "#version: 0.2\n");
            }
            var error = Assert.Throws<InvalidTokenizerException>(() => TokenizerLoader.FromFolder(folder.FullName));
            Assert.StartsWith(folder.FullName, error.TokenizerSource);
            Assert.Contains(problem, error.Message);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void SpecialTokenMissingFromTheVocabularyNamesTheConfigFile()
    {
        var files = new SyntheticTokenizerJson("a b").Files("""{"pad_token": "<pad>"}""");
        var error = Assert.Throws<InvalidTokenizerException>(() => TokenizerLoader.FromFiles(files));
        Assert.Equal("tokenizer_config.json", error.TokenizerSource);
        Assert.Contains("<pad>", error.Message);
    }

    [Fact]
    public void DecodingAnIdOutsideTheVocabularyIsRejected()
    {
        var gpt2 = TokenizerTestData.Gpt2.Value;
        Assert.Throws<ArgumentOutOfRangeException>(() => gpt2.Decode([50257]));
        Assert.Throws<ArgumentOutOfRangeException>(() => gpt2.Decode([-1]));
    }
}
