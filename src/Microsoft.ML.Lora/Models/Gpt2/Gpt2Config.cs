using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Models.Gpt2;

/// <summary>GPT-2 configuration with the meanings of HF's <c>GPT2Config</c>.</summary>
public sealed class Gpt2Config : ModelConfig
{
    /// <summary>Creates a config with GPT-2 small's defaults.</summary>
    public Gpt2Config() => ModelType = "gpt2";

    /// <summary>HF <c>vocab_size</c>.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; } = 50257;
    /// <summary>HF <c>n_positions</c>.</summary>
    [JsonPropertyName("n_positions")] public int NPositions { get; set; } = 1024;
    /// <summary>HF <c>n_embd</c>.</summary>
    [JsonPropertyName("n_embd")] public int NEmbd { get; set; } = 768;
    /// <summary>HF <c>n_layer</c>.</summary>
    [JsonPropertyName("n_layer")] public int NLayer { get; set; } = 12;
    /// <summary>HF <c>n_head</c>.</summary>
    [JsonPropertyName("n_head")] public int NHead { get; set; } = 12;
    /// <summary>HF <c>n_inner</c>; null means 4·n_embd.</summary>
    [JsonPropertyName("n_inner")] public int? NInner { get; set; }
    /// <summary>HF <c>activation_function</c> ("gelu_new").</summary>
    [JsonPropertyName("activation_function")] public string ActivationFunction { get; set; } = "gelu_new";
    /// <summary>HF <c>layer_norm_epsilon</c>.</summary>
    [JsonPropertyName("layer_norm_epsilon")] public double LayerNormEpsilon { get; set; } = 1e-5;
    /// <summary>HF <c>scale_attn_weights</c>.</summary>
    [JsonPropertyName("scale_attn_weights")] public bool ScaleAttnWeights { get; set; } = true;
    /// <summary>HF <c>scale_attn_by_inverse_layer_idx</c>: also divide attention scores by layer index + 1.</summary>
    [JsonPropertyName("scale_attn_by_inverse_layer_idx")] public bool ScaleAttnByInverseLayerIdx { get; set; }
    /// <summary>HF <c>attn_pdrop</c>: dropout on attention probabilities (training only).</summary>
    [JsonPropertyName("attn_pdrop")] public double AttnPdrop { get; set; } = 0.1;
    /// <summary>HF <c>resid_pdrop</c>: dropout on each block's attention and MLP outputs (training only).</summary>
    [JsonPropertyName("resid_pdrop")] public double ResidPdrop { get; set; } = 0.1;
    /// <summary>HF <c>embd_pdrop</c>: dropout on the summed embeddings (training only).</summary>
    [JsonPropertyName("embd_pdrop")] public double EmbdPdrop { get; set; } = 0.1;
    /// <summary>HF <c>tie_word_embeddings</c>.</summary>
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; set; } = true;
    /// <summary>HF <c>bos_token_id</c>.</summary>
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; set; } = 50256;
    /// <summary>HF <c>eos_token_id</c>.</summary>
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; set; } = 50256;
    /// <summary>HF <c>pad_token_id</c>.</summary>
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; set; }

    /// <summary>Width of the MLP after applying the default.</summary>
    [JsonIgnore] public int InnerSize => NInner ?? 4 * NEmbd;

    /// <inheritdoc />
    [JsonIgnore] public override int VocabularySize => VocabSize;
    /// <inheritdoc />
    [JsonIgnore] public override int ModelWidth => NEmbd;
    /// <inheritdoc />
    [JsonIgnore] public override int LayerCount => NLayer;
    /// <inheritdoc />
    [JsonIgnore] public override int MaxPositions => NPositions;

    /// <inheritdoc />
    public override void Validate(string source)
    {
        base.Validate(source);
        Require(NHead > 0 && NEmbd % NHead == 0, source, $"n_embd ({NEmbd}) must be a multiple of n_head ({NHead})");
        Require(NPositions > 0, source, "n_positions must be positive");
        Require(InnerSize > 0, source, "n_inner must be positive");
        Require(Activations.IsSupported(ActivationFunction), source,
            $"activation_function '{ActivationFunction}' is not supported (supported: {string.Join(", ", Activations.Supported)})");
        RequireProbability(AttnPdrop, "attn_pdrop", source);
        RequireProbability(ResidPdrop, "resid_pdrop", source);
        RequireProbability(EmbdPdrop, "embd_pdrop", source);
    }
}
