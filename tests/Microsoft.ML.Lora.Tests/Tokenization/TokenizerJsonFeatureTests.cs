using System.Text.Json.Nodes;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.Tokenization;

public class TokenizerJsonFeatureTests
{
    private static TextTokenizer Load(SyntheticTokenizerJson json, string? tokenizerConfig = null) =>
        TokenizerLoader.FromFiles(json.Files(tokenizerConfig));

    private static JsonObject Split(string pattern) => new()
    {
        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = pattern }, ["behavior"] = "Isolated", ["invert"] = false,
    };

    private static JsonObject Sequence(params JsonNode[] steps) => new() { ["type"] = "Sequence", ["pretokenizers"] = new JsonArray(steps) };

    private static JsonObject ByteLevel(bool useRegex) => new() { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = useRegex };

    [Fact]
    public void MergesWrittenAsArraysEqualMergesWrittenAsStrings()
    {
        var json = new SyntheticTokenizerJson("h e", "Ġ t", "Ġt he");
        var asStrings = Load(json);
        json.MergesAsArrays = true;
        var asArrays = Load(json);
        Assert.Equal([json["Ġthe"], json["Ġt"]], asArrays.Encode(" the t"));
        Assert.Equal(asStrings.Encode(" the theme"), asArrays.Encode(" the theme"));
    }

    [Fact]
    public void SplitAndDigitsPreTokenizersIsolateTheirMatches()
    {
        var json = new SyntheticTokenizerJson("1 2", "12 3", "a b");
        Assert.Equal([json["123"]], Load(json).Encode("123"));

        // Digits(individual) before ByteLevel's regex (SmolLM): every digit is a word of its own.
        json.PreTokenizer = Sequence(new JsonObject { ["type"] = "Digits", ["individual_digits"] = true }, ByteLevel(useRegex: true));
        Assert.Equal([json["1"], json["2"], json["3"], json["ab"]], Load(json).Encode("123ab"));

        // Llama 3's Split pattern groups digits by three; the gaps between matches are kept.
        json.PreTokenizer = Sequence(Split(@"\p{N}{1,3}"), ByteLevel(useRegex: false));
        Assert.Equal([json["ab"], json["123"], json["12"], json["ab"]], Load(json).Encode("ab12312ab"));
    }

    [Fact]
    public void IgnoreMergesTakesWholeWordsFromTheVocabulary()
    {
        var json = new SyntheticTokenizerJson("a b");
        json.Vocab["abc"] = 300; // in the vocabulary, but no merge builds it
        Assert.Equal([json["ab"], json["c"]], Load(json).Encode("abc"));
        json.IgnoreMerges = true;
        Assert.Equal([300], Load(json).Encode("abc"));
        Assert.Equal([json["ab"], json["d"]], Load(json).Encode("abd"));
    }

    [Fact]
    public void NfcNormalizerComposesBeforeByteEncoding()
    {
        var json = new SyntheticTokenizerJson("Ã ©");
        json.Normalizer = new JsonObject { ["type"] = "NFC" };
        var tokenizer = Load(json);
        Assert.Equal([json["Ã©"]], tokenizer.Encode("e\u0301"));
        Assert.Equal("é", tokenizer.Decode(tokenizer.Encode("e\u0301")));
    }

    [Fact]
    public void AddedTokensAreCutOutFirstAndOnlySpecialOnesAreSkippedWhenDecoding()
    {
        var json = new SyntheticTokenizerJson("a b")
            .AddToken("<|im_start|>", 300, special: true)
            .AddToken("<tool>", 301, special: false)
            .AddToken("<mask>", 302, special: true, lstrip: true);
        var tokenizer = Load(json);
        Assert.Equal([300, json["ab"], 301, json["ab"]], tokenizer.Encode("<|im_start|>ab<tool>ab"));
        Assert.Equal("ab<tool>ab", tokenizer.Decode(tokenizer.Encode("<|im_start|>ab<tool>ab")));
        Assert.Equal([json["ab"], 302], tokenizer.Encode("ab <mask>"));
        Assert.Equal(303, tokenizer.VocabularySize);
        Assert.Equal(301, tokenizer.TokenToId("<tool>"));
        Assert.Equal("<tool>", tokenizer.IdToToken(301));
    }

    [Fact]
    public void TemplateProcessingWithALeadingTokenMakesItBos()
    {
        var json = new SyntheticTokenizerJson("a b").AddToken("<|begin_of_text|>", 300, special: true);
        json.PostProcessor = new JsonObject
        {
            ["type"] = "Sequence",
            ["processors"] = new JsonArray(
                new JsonObject { ["type"] = "ByteLevel" },
                new JsonObject
                {
                    ["type"] = "TemplateProcessing",
                    ["single"] = new JsonArray(
                        new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["type_id"] = 0 } },
                        new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                    ["pair"] = new JsonArray(
                        new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["type_id"] = 0 } },
                        new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
                        new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "B", ["type_id"] = 1 } }),
                    ["special_tokens"] = new JsonObject
                    {
                        ["<|begin_of_text|>"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["ids"] = new JsonArray(300), ["tokens"] = new JsonArray("<|begin_of_text|>") },
                    },
                }),
        };
        var tokenizer = Load(json, """{"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|begin_of_text|>"}}""");
        Assert.Equal(300, tokenizer.BosId);
        Assert.True(tokenizer.AddBos);
        Assert.Equal([300, json["ab"]], tokenizer.EncodeForModel("ab"));
        var pair = tokenizer.EncodePairForModel("ab", "b");
        Assert.Equal([300, json["ab"], json["b"]], pair.Ids);
        Assert.Equal([0, 0, 1], pair.TokenTypeIds);
    }

    [Theory]
    [InlineData("model", "Unigram")]
    [InlineData("pre_tokenizer", "Metaspace")]
    [InlineData("normalizer", "Precompiled")]
    [InlineData("split", "MergedWithPrevious")]
    public void UnsupportedPartsRaiseInvalidTokenizerExceptionNamingThem(string part, string type)
    {
        var json = new SyntheticTokenizerJson("a b");
        switch (part)
        {
            case "model": json.ModelType = type; break;
            case "pre_tokenizer": json.PreTokenizer = Sequence(ByteLevel(true), new JsonObject { ["type"] = type }); break;
            case "normalizer": json.Normalizer = new JsonObject { ["type"] = type }; break;
            default:
                var split = Split("a");
                split["behavior"] = type;
                json.PreTokenizer = Sequence(split, ByteLevel(false));
                break;
        }
        var error = Assert.Throws<InvalidTokenizerException>(() => Load(json));
        Assert.Equal("tokenizer.json", error.TokenizerSource);
        Assert.Contains(type, error.Message);
    }
}
