using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Models.Llama;

/// <summary>
/// Configuration of the Llama family (model_type "llama", "qwen2", "mistral"), with the meanings of
/// Hugging Face's <c>LlamaConfig</c>/<c>Qwen2Config</c>/<c>MistralConfig</c>.
/// </summary>
public sealed class LlamaConfig : ModelConfig
{
    /// <summary>Creates a config with Llama's defaults.</summary>
    public LlamaConfig() => ModelType = "llama";

    /// <summary>HF <c>vocab_size</c>.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; } = 32000;

    /// <summary>HF <c>hidden_size</c>.</summary>
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; set; } = 4096;

    /// <summary>HF <c>intermediate_size</c> (SwiGLU width).</summary>
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; set; } = 11008;

    /// <summary>HF <c>num_hidden_layers</c>.</summary>
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; set; } = 32;

    /// <summary>HF <c>num_attention_heads</c>.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; set; } = 32;

    /// <summary>HF <c>num_key_value_heads</c> (grouped-query attention); null means equal to the heads.</summary>
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; set; }

    /// <summary>HF <c>head_dim</c>; null means hidden_size / num_attention_heads.</summary>
    [JsonPropertyName("head_dim")] public int? HeadDim { get; set; }

    /// <summary>HF <c>max_position_embeddings</c>.</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = 2048;

    /// <summary>HF <c>rms_norm_eps</c>.</summary>
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; set; } = 1e-6;

    /// <summary>HF <c>rope_theta</c>.</summary>
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; set; } = 10000.0;

    /// <summary>HF <c>rope_scaling</c> (null for none).</summary>
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; set; }

    /// <summary>HF <c>attention_bias</c>: q/k/v/o projections carry biases. Qwen2 has q/k/v biases always.</summary>
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; set; }

    /// <summary>HF <c>attention_dropout</c> (applied to attention probabilities in training only).</summary>
    [JsonPropertyName("attention_dropout")] public double AttentionDropout { get; set; }

    /// <summary>HF <c>mlp_bias</c>.</summary>
    [JsonPropertyName("mlp_bias")] public bool MlpBias { get; set; }

    /// <summary>HF <c>tie_word_embeddings</c>: the LM head reuses the token embedding.</summary>
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; set; }

    /// <summary>HF <c>hidden_act</c> (only "silu" is supported).</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; set; } = "silu";

    /// <summary>HF <c>bos_token_id</c>.</summary>
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; set; } = 1;

    /// <summary>HF <c>eos_token_id</c>.</summary>
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; set; } = 2;

    /// <summary>HF <c>pad_token_id</c>.</summary>
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; set; }

    /// <summary>
    /// HF <c>sliding_window</c>. Mistral attends to the last sliding_window keys only; Qwen2 records it but
    /// (as HF with its default use_sliding_window=false) attends to all keys.
    /// </summary>
    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; set; }

    /// <summary>Key/value heads after applying the default.</summary>
    [JsonIgnore] public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;

    /// <summary>Width of one attention head after applying the default.</summary>
    [JsonIgnore] public int HeadDimension => HeadDim ?? HiddenSize / NumAttentionHeads;

    /// <summary>The attention window in keys, or null for full causal attention (see <see cref="SlidingWindow"/>).</summary>
    [JsonIgnore] public int? AttentionWindow => ModelType == "mistral" ? SlidingWindow : null;

    /// <summary>Whether q/k/v projections have biases (always for Qwen2).</summary>
    [JsonIgnore] public bool QkvBias => AttentionBias || ModelType == "qwen2";

    /// <summary>Whether the output projection has a bias (Qwen2 has none).</summary>
    [JsonIgnore] public bool OutputBias => AttentionBias && ModelType != "qwen2";

    /// <inheritdoc />
    [JsonIgnore] public override int VocabularySize => VocabSize;

    /// <inheritdoc />
    [JsonIgnore] public override int ModelWidth => HiddenSize;

    /// <inheritdoc />
    [JsonIgnore] public override int LayerCount => NumHiddenLayers;

    /// <inheritdoc />
    [JsonIgnore] public override int MaxPositions => MaxPositionEmbeddings;

    /// <inheritdoc />
    public override void Validate(string source)
    {
        base.Validate(source);
        Require(NumAttentionHeads > 0, source, "num_attention_heads must be positive");
        Require(KeyValueHeads > 0 && NumAttentionHeads % KeyValueHeads == 0, source,
            $"num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({KeyValueHeads})");
        Require(HeadDimension > 0 && HeadDimension % 2 == 0, source, $"head_dim ({HeadDimension}) must be positive and even for rotary embeddings");
        Require(IntermediateSize > 0, source, "intermediate_size must be positive");
        Require(HiddenAct is "silu" or "swish", source, $"hidden_act '{HiddenAct}' is not supported (only silu)");
        Require(RopeTheta > 0, source, "rope_theta must be positive");
        Require(MaxPositionEmbeddings > 0, source, "max_position_embeddings must be positive");
        if (RopeScaling is { } scaling)
        {
            Require(RotaryEmbedding.SupportedScalingKinds.Contains(scaling.Kind), source,
                $"rope_scaling type '{scaling.Kind}' is not supported (supported: {string.Join(", ", RotaryEmbedding.SupportedScalingKinds)})");
            Require(scaling.Kind == "default" || scaling.Factor >= 1, source, $"rope_scaling factor ({scaling.Factor}) must be at least 1");
            Require(scaling.Kind != "llama3" || scaling.OriginalMaxPositionEmbeddings is > 0, source,
                "rope_scaling type 'llama3' needs original_max_position_embeddings");
            Require(scaling.Kind != "llama3" || scaling.HighFreqFactor > scaling.LowFreqFactor, source,
                $"rope_scaling high_freq_factor ({scaling.HighFreqFactor}) must exceed low_freq_factor ({scaling.LowFreqFactor})");
        }
        Require(SlidingWindow is null or > 0, source, "sliding_window must be positive when given");
        RequireProbability(AttentionDropout, "attention_dropout", source);
    }
}

/// <summary>HF <c>rope_scaling</c>: how rotary frequencies are stretched for long contexts.</summary>
public sealed class RopeScaling
{
    /// <summary>"linear", "dynamic" or "llama3" (HF also writes it as <c>rope_type</c>).</summary>
    [JsonPropertyName("rope_type")] public string? RopeType { get; set; }

    /// <summary>Older spelling of <see cref="RopeType"/>.</summary>
    [JsonPropertyName("type")] public string? Type { get; set; }

    /// <summary>Scaling factor.</summary>
    [JsonPropertyName("factor")] public double Factor { get; set; } = 1.0;

    /// <summary>llama3: low frequency factor.</summary>
    [JsonPropertyName("low_freq_factor")] public double LowFreqFactor { get; set; } = 1.0;

    /// <summary>llama3: high frequency factor.</summary>
    [JsonPropertyName("high_freq_factor")] public double HighFreqFactor { get; set; } = 4.0;

    /// <summary>llama3: the context length the model was pretrained with.</summary>
    [JsonPropertyName("original_max_position_embeddings")] public int? OriginalMaxPositionEmbeddings { get; set; }

    /// <summary>The scaling kind, whichever key carried it ("default" when none).</summary>
    [JsonIgnore] public string Kind => RopeType ?? Type ?? "default";
}
