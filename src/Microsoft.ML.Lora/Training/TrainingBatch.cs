using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Training;

/// <summary>A padded batch: ids and mask [B, T], labels [B], and for language modelling the loss mask.</summary>
public sealed class TrainingBatch : IDisposable
{
    private TrainingBatch(Tensor inputIds, Tensor attentionMask, Tensor labels, Tensor? lossMask, Tensor? tokenTypeIds, long realTokens)
    {
        InputIds = inputIds;
        AttentionMask = attentionMask;
        Labels = labels;
        LossMask = lossMask;
        TokenTypeIds = tokenTypeIds;
        RealTokens = realTokens;
    }

    /// <summary>Token ids [B, T] (int64).</summary>
    public Tensor InputIds { get; }
    /// <summary>1 for real tokens, 0 for padding [B, T] (int64).</summary>
    public Tensor AttentionMask { get; }
    /// <summary>Labels [B] (float32; class index for classification).</summary>
    public Tensor Labels { get; }
    /// <summary>[B, T−1] float mask of next-token targets that carry loss, or null.</summary>
    public Tensor? LossMask { get; }
    /// <summary>Token type ids [B, T] for sentence pairs on encoders, or null.</summary>
    public Tensor? TokenTypeIds { get; }
    /// <summary>Number of non-padding tokens (for tokens/s).</summary>
    public long RealTokens { get; }

    /// <summary>Pads examples to the longest one, on the left or the right.</summary>
    public static TrainingBatch Collate(IReadOnlyList<TokenizedExample> examples, int padId, Device device, bool padLeft = false, bool withLossMask = false)
    {
        int b = examples.Count;
        int t = examples.Max(e => e.InputIds.Length);
        var ids = new long[b * t];
        var mask = new long[b * t];
        var types = examples.Any(e => e.TokenTypeIds is not null) ? new long[b * t] : null;
        var labels = new float[b];
        var loss = withLossMask ? new float[b * (t - 1)] : null;
        long real = 0;
        for (int row = 0; row < b; row++)
        {
            var e = examples[row];
            int n = e.InputIds.Length, offset = padLeft ? t - n : 0;
            real += n;
            labels[row] = e.Label;
            for (int j = 0; j < t; j++)
            {
                ids[row * t + j] = padId;
            }
            for (int j = 0; j < n; j++)
            {
                ids[row * t + offset + j] = e.InputIds[j];
                mask[row * t + offset + j] = 1;
                if (types is not null && e.TokenTypeIds is { } tt)
                {
                    types[row * t + offset + j] = tt[j];
                }
            }
            if (loss is not null)
            {
                // Target at position p (predicting token p+1) counts when token p+1 is a response token.
                for (int j = e.LossMask is null ? Math.Max(1, e.LossStart) : 1; j < n; j++)
                {
                    loss[row * (t - 1) + offset + j - 1] = e.LossMask is null || e.LossMask[j] ? 1 : 0;
                }
            }
        }
        return new TrainingBatch(
            tensor(ids, [b, t], device: device),
            tensor(mask, [b, t], device: device),
            tensor(labels, device: device),
            loss is null ? null : tensor(loss, [b, t - 1], device: device),
            types is null ? null : tensor(types, [b, t], device: device),
            real);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        Labels.Dispose();
        LossMask?.Dispose();
        TokenTypeIds?.Dispose();
    }
}
