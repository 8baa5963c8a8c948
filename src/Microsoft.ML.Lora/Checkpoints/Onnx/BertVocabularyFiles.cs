using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Lora.Models.Bert;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>The tokenizer files of an imported BERT folder: the vocab.txt given, and the configs HF's BertTokenizer reads.</summary>
internal static class BertVocabularyFiles
{
    private static readonly (string Role, string Token)[] SpecialTokens =
        [("unk_token", "[UNK]"), ("sep_token", "[SEP]"), ("pad_token", "[PAD]"), ("cls_token", "[CLS]"), ("mask_token", "[MASK]")];

    public static List<string> ReadVocabulary(string vocabPath)
    {
        var path = Path.GetFullPath(vocabPath);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Vocabulary '{path}' does not exist.", path);
        }
        var tokens = File.ReadAllText(path).TrimStart('\uFEFF').Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        while (tokens.Count > 0 && tokens[^1].Length == 0)
        {
            tokens.RemoveAt(tokens.Count - 1);
        }
        if (tokens.Count == 0)
        {
            throw new InvalidTokenizerException(path, "the vocabulary is empty.");
        }
        var missing = SpecialTokens.Select(s => s.Token).Where(t => !tokens.Contains(t)).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidTokenizerException(path, $"a BERT WordPiece vocabulary needs {string.Join(", ", missing)}; this one lacks them.");
        }
        return tokens;
    }

    public static void RequireFits(List<string> tokens, BertConfig config, string vocabPath)
    {
        if (tokens.Count > config.VocabSize)
        {
            throw new InvalidTokenizerException(Path.GetFullPath(vocabPath),
                $"the vocabulary has {tokens.Count} tokens but the model's word embedding only {config.VocabSize} rows: it belongs to another model.");
        }
    }

    /// <summary>Copies vocab.txt and writes tokenizer_config.json and special_tokens_map.json.</summary>
    public static IEnumerable<string> Write(string folder, string vocabPath, List<string> tokens, int maxLength)
    {
        var vocabTarget = Path.Combine(folder, TokenizerFileNames.VocabTxt);
        if (!string.Equals(Path.GetFullPath(vocabPath), vocabTarget, StringComparison.Ordinal))
        {
            File.Copy(vocabPath, vocabTarget, overwrite: true);
        }
        var special = new JsonObject(SpecialTokens.Select(s => KeyValuePair.Create(s.Role, (JsonNode?)s.Token)));
        var config = new JsonObject
        {
            ["tokenizer_class"] = "BertTokenizer",
            // HF's BertTokenizer lower-cases unless told otherwise; say what this vocabulary needs.
            ["do_lower_case"] = WordPieceReaders.IsUncasedVocabulary(tokens),
            ["model_max_length"] = maxLength,
        };
        foreach (var (role, token) in SpecialTokens)
        {
            config[role] = token;
        }
        var options = new JsonSerializerOptions { WriteIndented = true };
        var configPath = Path.Combine(folder, TokenizerFileNames.TokenizerConfig);
        var specialPath = Path.Combine(folder, TokenizerFileNames.SpecialTokensMap);
        File.WriteAllText(configPath, config.ToJsonString(options) + "\n");
        File.WriteAllText(specialPath, special.ToJsonString(options) + "\n");
        return [vocabTarget, configPath, specialPath];
    }
}
