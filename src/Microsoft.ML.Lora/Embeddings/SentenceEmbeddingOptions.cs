using Microsoft.ML.Lora.Checkpoints;

namespace Microsoft.ML.Lora.Embeddings;

/// <summary>How <see cref="SentenceEmbedder.Embed"/> turns texts into vectors; null settings take the model's own.</summary>
public sealed record SentenceEmbeddingOptions
{
    /// <summary>Pooling, or null for the model's (its sentence-transformers <c>modules.json</c>; mean pooling without one).</summary>
    public SentencePooling? Pooling { get; init; }

    /// <summary>L2-normalise each vector; null for the model's (a Normalize module in its <c>modules.json</c>).</summary>
    public bool? Normalize { get; init; }

    /// <summary>Longest input in tokens, [CLS] and [SEP] included; null for the model's (<c>max_seq_length</c>, else its position limit).</summary>
    public int? MaxSequenceLength { get; init; }

    /// <summary>Texts per forward pass (length-sorted, so each batch pads little).</summary>
    public int BatchSize { get; init; } = 32;
}
