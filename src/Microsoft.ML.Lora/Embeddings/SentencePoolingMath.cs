using Microsoft.ML.Lora.Checkpoints;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Embeddings;

/// <summary>sentence-transformers' Pooling and Normalize modules on token states.</summary>
internal static class SentencePoolingMath
{
    /// <summary>
    /// Pools hidden states [B, T, H] with the attention mask [B, T] into [B, H] (float32): the masked mean
    /// (sum over real tokens / their count, the count clamped at 1e-9 as sentence-transformers does) or the state
    /// of the first real token ([CLS]).
    /// </summary>
    public static Tensor Pool(Tensor hidden, Tensor attentionMask, SentencePooling pooling)
    {
        using var scope = NewDisposeScope();
        var states = hidden.to(ScalarType.Float32);
        Tensor pooled;
        if (pooling == SentencePooling.Mean)
        {
            var mask = attentionMask.to(ScalarType.Float32).unsqueeze(-1);
            pooled = (states * mask).sum(1) / mask.sum(1).clamp_min(1e-9);
        }
        else
        {
            var first = attentionMask.to(ScalarType.Int64).argmax(-1);
            pooled = states[arange(states.shape[0], device: states.device), first];
        }
        return pooled.MoveToOuterDisposeScope();
    }

    /// <summary>Each row divided by its L2 norm (at least 1e-12), as torch's F.normalize.</summary>
    public static Tensor Normalize(Tensor vectors) =>
        vectors / vectors.norm(1, keepdim: true).clamp_min(1e-12);
}
