using System.Text;
using System.Text.Json.Nodes;

namespace Microsoft.ML.Lora.Tests.Tokenization;

/// <summary>
/// A tiny byte-level BPE tokenizer.json built in the test, so each feature's effect on ids can be
/// worked out by hand: the vocabulary is printable ASCII (ids = character codes), 'Ġ' (space),
/// the two byte characters of 'é' and the merge results, in order, from id 200.
/// </summary>
internal sealed class SyntheticTokenizerJson
{
    public const int Space = 199;

    public Dictionary<string, int> Vocab { get; } = new(StringComparer.Ordinal);

    public List<(string Left, string Right)> Merges { get; } = [];

    public JsonNode? PreTokenizer { get; set; } = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true };

    public JsonNode? Normalizer { get; set; }

    public JsonNode? PostProcessor { get; set; }

    public bool MergesAsArrays { get; set; }

    public bool IgnoreMerges { get; set; }

    public string ModelType { get; set; } = "BPE";

    public JsonArray AddedTokens { get; } = [];

    public SyntheticTokenizerJson(params string[] merges)
    {
        for (var c = '!'; c <= '~'; c++)
        {
            Vocab[c.ToString()] = c;
        }
        Vocab["Ġ"] = Space;
        Vocab["Ã"] = 197; // byte 0xC3
        Vocab["©"] = 198; // byte 0xA9
        foreach (var merge in merges)
        {
            var parts = merge.Split(' ');
            Merges.Add((parts[0], parts[1]));
            Vocab.TryAdd(parts[0] + parts[1], 200 + Merges.Count - 1);
        }
    }

    public int this[string token] => Vocab[token];

    public SyntheticTokenizerJson AddToken(string content, int id, bool special, bool lstrip = false)
    {
        AddedTokens.Add(new JsonObject
        {
            ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = lstrip, ["rstrip"] = false,
            ["normalized"] = false, ["special"] = special,
        });
        return this;
    }

    public byte[] ToBytes()
    {
        var vocab = new JsonObject();
        foreach (var (token, id) in Vocab)
        {
            vocab[token] = id;
        }
        var merges = new JsonArray();
        foreach (var (left, right) in Merges)
        {
            merges.Add(MergesAsArrays ? new JsonArray(left, right) : JsonValue.Create($"{left} {right}"));
        }
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = AddedTokens.DeepClone(),
            ["normalizer"] = Normalizer?.DeepClone(),
            ["pre_tokenizer"] = PreTokenizer?.DeepClone(),
            ["post_processor"] = PostProcessor?.DeepClone(),
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = ModelType, ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = IgnoreMerges,
                ["vocab"] = vocab, ["merges"] = merges,
            },
        };
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    public Dictionary<string, byte[]> Files(string? tokenizerConfig = null)
    {
        var files = new Dictionary<string, byte[]> { ["tokenizer.json"] = ToBytes() };
        if (tokenizerConfig is not null)
        {
            files["tokenizer_config.json"] = Encoding.UTF8.GetBytes(tokenizerConfig);
        }
        return files;
    }
}
