using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Models.Bert;

/// <summary>
/// Configuration of the BERT family: model_type "bert" and "roberta" (HF <c>BertConfig</c>/<c>RobertaConfig</c>
/// keys) and "distilbert" (HF <c>DistilBertConfig</c> keys: dim, n_layers, n_heads, hidden_dim, ...).
/// Both spellings are kept so the file round-trips; the resolved values are exposed as properties.
/// </summary>
public sealed class BertConfig : ModelConfig
{
    /// <summary>Creates a config with bert-base's defaults.</summary>
    public BertConfig() => ModelType = "bert";

    /// <summary>HF <c>vocab_size</c>.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; } = 30522;
    /// <summary>HF <c>hidden_size</c> (bert/roberta).</summary>
    [JsonPropertyName("hidden_size")] public int? HiddenSize { get; set; }
    /// <summary>HF <c>num_hidden_layers</c> (bert/roberta).</summary>
    [JsonPropertyName("num_hidden_layers")] public int? NumHiddenLayers { get; set; }
    /// <summary>HF <c>num_attention_heads</c> (bert/roberta).</summary>
    [JsonPropertyName("num_attention_heads")] public int? NumAttentionHeads { get; set; }
    /// <summary>HF <c>intermediate_size</c> (bert/roberta).</summary>
    [JsonPropertyName("intermediate_size")] public int? IntermediateSize { get; set; }
    /// <summary>HF <c>hidden_act</c> (bert/roberta), "gelu".</summary>
    [JsonPropertyName("hidden_act")] public string? HiddenAct { get; set; }
    /// <summary>HF <c>max_position_embeddings</c>.</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = 512;
    /// <summary>HF <c>type_vocab_size</c> (bert: 2, roberta: 1, distilbert: none).</summary>
    [JsonPropertyName("type_vocab_size")] public int? TypeVocabSize { get; set; }
    /// <summary>HF <c>layer_norm_eps</c>.</summary>
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; set; } = 1e-12;
    /// <summary>HF <c>pad_token_id</c> (roberta offsets positions by it).</summary>
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; set; } = 0;
    /// <summary>HF <c>dim</c> (distilbert).</summary>
    [JsonPropertyName("dim")] public int? Dim { get; set; }
    /// <summary>HF <c>n_layers</c> (distilbert).</summary>
    [JsonPropertyName("n_layers")] public int? NLayers { get; set; }
    /// <summary>HF <c>n_heads</c> (distilbert).</summary>
    [JsonPropertyName("n_heads")] public int? NHeads { get; set; }
    /// <summary>HF <c>hidden_dim</c> (distilbert's FFN width).</summary>
    [JsonPropertyName("hidden_dim")] public int? HiddenDim { get; set; }
    /// <summary>HF <c>activation</c> (distilbert), "gelu".</summary>
    [JsonPropertyName("activation")] public string? Activation { get; set; }
    /// <summary>HF <c>seq_classif_dropout</c> (distilbert).</summary>
    [JsonPropertyName("seq_classif_dropout")] public double? SeqClassifDropout { get; set; }

    /// <summary>HF <c>hidden_dropout_prob</c> (bert/roberta).</summary>
    [JsonPropertyName("hidden_dropout_prob")] public double HiddenDropoutProb { get; set; } = 0.1;
    /// <summary>HF <c>attention_probs_dropout_prob</c> (bert/roberta).</summary>
    [JsonPropertyName("attention_probs_dropout_prob")] public double AttentionProbsDropoutProb { get; set; } = 0.1;
    /// <summary>HF <c>classifier_dropout</c> (bert/roberta); null means hidden_dropout_prob.</summary>
    [JsonPropertyName("classifier_dropout")] public double? ClassifierDropout { get; set; }
    /// <summary>HF <c>dropout</c> (distilbert).</summary>
    [JsonPropertyName("dropout")] public double DistilDropout { get; set; } = 0.1;
    /// <summary>HF <c>attention_dropout</c> (distilbert).</summary>
    [JsonPropertyName("attention_dropout")] public double DistilAttentionDropout { get; set; } = 0.1;

    /// <summary>True for DistilBERT's layout (no token types, no pooler, pre_classifier head).</summary>
    [JsonIgnore] public bool IsDistilBert => ModelType == "distilbert";
    /// <summary>Resolved width.</summary>
    [JsonIgnore] public int Hidden => (IsDistilBert ? Dim : HiddenSize) ?? 768;
    /// <summary>Resolved layer count.</summary>
    [JsonIgnore] public int Layers => (IsDistilBert ? NLayers : NumHiddenLayers) ?? (IsDistilBert ? 6 : 12);
    /// <summary>Resolved head count.</summary>
    [JsonIgnore] public int Heads => (IsDistilBert ? NHeads : NumAttentionHeads) ?? 12;
    /// <summary>Resolved FFN width.</summary>
    [JsonIgnore] public int Intermediate => (IsDistilBert ? HiddenDim : IntermediateSize) ?? 4 * Hidden;
    /// <summary>Resolved token-type vocabulary (0 for distilbert, which has no token types).</summary>
    [JsonIgnore] public int TokenTypes => IsDistilBert ? 0 : TypeVocabSize ?? 2;
    /// <summary>Resolved dropout on hidden states (training only).</summary>
    [JsonIgnore] public double HiddenDropout => IsDistilBert ? DistilDropout : HiddenDropoutProb;
    /// <summary>Resolved dropout on attention probabilities (training only).</summary>
    [JsonIgnore] public double AttentionDropout => IsDistilBert ? DistilAttentionDropout : AttentionProbsDropoutProb;
    /// <summary>Resolved dropout before the classifier (training only).</summary>
    [JsonIgnore] public double HeadDropout => (IsDistilBert ? SeqClassifDropout ?? 0.2 : ClassifierDropout ?? HiddenDropoutProb);
    /// <summary>Roberta's padding index: position ids of real tokens start at padding_idx + 1.</summary>
    [JsonIgnore] public int PaddingIndex => PadTokenId ?? 1;
    /// <summary>Resolved activation name.</summary>
    [JsonIgnore] public string ActivationName => (IsDistilBert ? Activation : HiddenAct) ?? "gelu";

    /// <inheritdoc />
    [JsonIgnore] public override int VocabularySize => VocabSize;
    /// <inheritdoc />
    [JsonIgnore] public override int ModelWidth => Hidden;
    /// <inheritdoc />
    [JsonIgnore] public override int LayerCount => Layers;
    /// <inheritdoc />
    [JsonIgnore] public override int MaxPositions => ModelType == "roberta" ? MaxPositionEmbeddings - PaddingIndex - 1 : MaxPositionEmbeddings;

    /// <inheritdoc />
    public override void Validate(string source)
    {
        base.Validate(source);
        Require(ModelType is "bert" or "roberta" or "distilbert", source, $"model_type '{ModelType}' is not a BERT-family type");
        Require(Heads > 0 && Hidden % Heads == 0, source, $"hidden size ({Hidden}) must be a multiple of the head count ({Heads})");
        Require(Intermediate > 0, source, "the feed-forward width must be positive");
        Require(MaxPositions > 0, source, $"max_position_embeddings ({MaxPositionEmbeddings}) leaves no positions");
        Require(IsDistilBert || TokenTypes > 0, source, "type_vocab_size must be positive");
        Require(LayerNormEps > 0, source, "layer_norm_eps must be positive");
        Require(ModelType != "roberta" || PaddingIndex >= 0, source, "pad_token_id must not be negative");
        Require(Activations.IsSupported(ActivationName), source,
            $"activation '{ActivationName}' is not supported (supported: {string.Join(", ", Activations.Supported)})");
        RequireProbability(HiddenDropout, IsDistilBert ? "dropout" : "hidden_dropout_prob", source);
        RequireProbability(AttentionDropout, IsDistilBert ? "attention_dropout" : "attention_probs_dropout_prob", source);
        RequireProbability(HeadDropout, IsDistilBert ? "seq_classif_dropout" : "classifier_dropout", source);
    }
}
