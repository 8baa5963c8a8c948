using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Generation;

/// <summary>
/// HF's logits processors and warpers on next-token logits [batch, vocab] (float32): repetition penalty,
/// temperature, top-k, top-p, then greedy or sampled choice.
/// </summary>
public static class LogitsProcessing
{
    /// <summary>
    /// HF RepetitionPenaltyLogitsProcessor: every token present in a row's <paramref name="history"/> (where
    /// <paramref name="historyMask"/> is 1) gets logit/penalty when positive and logit·penalty when negative.
    /// </summary>
    public static Tensor PenalizeRepetitions(Tensor logits, Tensor history, Tensor historyMask, double penalty)
    {
        if (penalty == 1.0)
        {
            return logits;
        }
        using var scope = NewDisposeScope();
        var seen = zeros_like(logits).scatter_add_(1, history, historyMask.to(logits.dtype)).gt(0);
        var penalized = where(logits.lt(0), logits * penalty, logits / penalty);
        return where(seen, penalized, logits).MoveToOuterDisposeScope();
    }

    /// <summary>HF TopKLogitsWarper: logits below the k-th largest become −∞ (ties with the k-th stay).</summary>
    public static Tensor KeepTopK(Tensor logits, int k)
    {
        if (k <= 0 || k >= logits.shape[^1])
        {
            return logits;
        }
        using var scope = NewDisposeScope();
        var kth = logits.topk(k).values[.., (k - 1)..k];
        return logits.masked_fill(logits.lt(kth), double.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// HF TopPLogitsWarper: keeps the most likely tokens until their probabilities reach <paramref name="p"/>; a token
    /// goes when the probability mass ranked above it already reaches p (the most likely token always stays).
    /// </summary>
    public static Tensor KeepTopP(Tensor logits, double p)
    {
        if (p >= 1.0)
        {
            return logits;
        }
        using var scope = NewDisposeScope();
        var (sorted, order) = logits.sort(-1, descending: true);
        var probabilities = sorted.softmax(-1);
        var massAbove = probabilities.cumsum(-1) - probabilities;
        var removeSorted = massAbove.ge(p);
        var remove = zeros_like(removeSorted).scatter(-1, order, removeSorted);
        return logits.masked_fill(remove, double.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The next token of each row [batch] (Int64): argmax when greedy, else a draw from
    /// softmax(top-p(top-k(logits / temperature))) with <paramref name="generator"/>.
    /// </summary>
    public static Tensor ChooseNext(Tensor logits, GenerationOptions options, Generator? generator)
    {
        using var scope = NewDisposeScope();
        if (!options.Samples)
        {
            return logits.argmax(-1).MoveToOuterDisposeScope();
        }
        var warped = KeepTopP(KeepTopK(logits / options.Temperature, options.TopK), options.TopP);
        return warped.softmax(-1).multinomial(1, generator: generator).squeeze(-1).MoveToOuterDisposeScope();
    }
}
