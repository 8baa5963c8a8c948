using Microsoft.ML.Lora.Adapters;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Bert;

/// <summary>
/// HF BertEmbeddings / RobertaEmbeddings: LayerNorm(word + token_type + position) then dropout.
/// Positions count real tokens, so left padding does not move them; roberta's start at padding_idx + 1
/// and its padding tokens sit at padding_idx (HF create_position_ids_from_input_ids).
/// </summary>
public sealed class BertEmbeddings : nn.Module
{
    /// <summary>Token embedding [vocab, hidden].</summary>
    public AdaptableEmbedding word_embeddings;
    /// <summary>Absolute position embedding [max_position_embeddings, hidden].</summary>
    public AdaptableEmbedding position_embeddings;
    /// <summary>Segment embedding [type_vocab_size, hidden].</summary>
    public AdaptableEmbedding token_type_embeddings;
    /// <summary>Norm of the summed embeddings.</summary>
    public LayerNorm LayerNorm;

    private readonly BertConfig _config;

    /// <summary>Creates the embeddings for a config.</summary>
    public BertEmbeddings(BertConfig config) : base(nameof(BertEmbeddings))
    {
        _config = config;
        word_embeddings = new AdaptableEmbedding(config.VocabSize, config.Hidden);
        position_embeddings = new AdaptableEmbedding(config.MaxPositionEmbeddings, config.Hidden);
        token_type_embeddings = new AdaptableEmbedding(config.TokenTypes, config.Hidden);
        LayerNorm = nn.LayerNorm(config.Hidden, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>Embeds ids [B, T] with their token types [B, T] (null: all type 0).</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask, Tensor? tokenTypeIds)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1];
        var positions = AttentionMask.PositionIds(attentionMask, b, t, inputIds.device);
        if (_config.ModelType == "roberta")
        {
            positions = positions + (_config.PaddingIndex + 1);
            if (attentionMask is not null)
            {
                positions = positions.masked_fill(attentionMask.eq(0), _config.PaddingIndex);
            }
        }
        var types = tokenTypeIds ?? zeros_like(inputIds);
        // HF's order of addition: (word + token_type) + position.
        var summed = word_embeddings.forward(inputIds) + token_type_embeddings.forward(types) + position_embeddings.forward(positions);
        return nn.functional.dropout(LayerNorm.forward(summed), _config.HiddenDropout, training).MoveToOuterDisposeScope();
    }
}

/// <summary>HF BertPooler: tanh(dense(hidden state of the [CLS] token)).</summary>
public sealed class BertPooler : nn.Module<Tensor, Tensor>
{
    /// <summary>Pooling projection [hidden, hidden].</summary>
    public AdaptableLinear dense;

    /// <summary>Creates the pooler for a config.</summary>
    public BertPooler(BertConfig config) : base(nameof(BertPooler))
    {
        dense = new AdaptableLinear(config.Hidden, config.Hidden, hasBias: true);
        RegisterComponents();
    }

    /// <summary>clsState [B, hidden] → [B, hidden].</summary>
    public override Tensor forward(Tensor clsState) => dense.forward(clsState).tanh();
}
