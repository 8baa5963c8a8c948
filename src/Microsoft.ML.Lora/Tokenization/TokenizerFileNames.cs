namespace Microsoft.ML.Lora.Tokenization;

/// <summary>The Hugging Face file names a tokenizer is read from.</summary>
public static class TokenizerFileNames
{
    /// <summary>HF "fast" tokenizer: model, vocabulary, merges, normalizer, pre-tokenizer, added tokens.</summary>
    public const string TokenizerJson = "tokenizer.json";

    /// <summary>SentencePiece model protobuf (Llama 2, Mistral, TinyLlama, llama2.c conversions).</summary>
    public const string SentencePieceModel = "tokenizer.model";

    /// <summary>GPT-2 style BPE vocabulary (token → id JSON).</summary>
    public const string VocabJson = "vocab.json";

    /// <summary>GPT-2 style BPE merges, one "a b" pair per line.</summary>
    public const string MergesTxt = "merges.txt";

    /// <summary>WordPiece vocabulary, one token per line, the line number being the id.</summary>
    public const string VocabTxt = "vocab.txt";

    /// <summary>Tokenizer options: special tokens, add_bos_token, do_lower_case, added_tokens_decoder.</summary>
    public const string TokenizerConfig = "tokenizer_config.json";

    /// <summary>Special tokens by role (bos_token, eos_token, pad_token, unk_token, ...).</summary>
    public const string SpecialTokensMap = "special_tokens_map.json";

    /// <summary>The model configuration (bos_token_id, eos_token_id, pad_token_id are read from it as a last resort).</summary>
    public const string ModelConfig = "config.json";

    /// <summary>Generation settings; its bos/eos/pad token ids rank before config.json's.</summary>
    public const string GenerationConfig = "generation_config.json";

    /// <summary>The chat template as a file of its own (newer transformers save it beside tokenizer_config.json).</summary>
    public const string ChatTemplateJinja = "chat_template.jinja";

    /// <summary>Every file name the loader reads, in the order it looks for them.</summary>
    public static IReadOnlyList<string> All { get; } =
        [TokenizerJson, SentencePieceModel, VocabJson, MergesTxt, VocabTxt, TokenizerConfig, SpecialTokensMap, ModelConfig, GenerationConfig, ChatTemplateJinja];
}
