using Microsoft.ML.Lora.Models;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>What a benchmark step computes, for its FLOP count.</summary>
public enum FlopKind
{
    /// <summary>A forward pass only.</summary>
    Forward,
    /// <summary>LoRA training: forward plus input gradients through the frozen weights (no frozen weight gradients).</summary>
    LoraTraining,
    /// <summary>Full fine-tuning: forward, input gradients and every weight's gradient.</summary>
    FullTraining,
}

/// <summary>
/// Model FLOPs per token in the usual transformer accounting: P = parameters taking part in matrix products
/// (every linear layer plus the LM head, tied or not), L layers, S tokens of context, d the model width.
/// Forward 2·P + 4·L·S·d; LoRA training 4·P + 12·L·S·d; full fine-tuning 6·P + 12·L·S·d. Recomputation
/// (gradient checkpointing) and the small LoRA products are not counted: these are model FLOPs, so MFU
/// says how much of the hardware the useful work used.
/// </summary>
public static class FlopAccounting
{
    /// <summary>
    /// P: weights of the model's linear layers (classification heads excluded) plus vocabulary × width for a
    /// causal LM whose head is tied to the embedding (it is a matrix product all the same).
    /// </summary>
    public static long MatmulParameters(PretrainedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var heads = model.ClassificationHeadModules;
        long total = 0;
        bool hasOutputHead = false;
        foreach (var (name, layer) in model.AdaptableLayers())
        {
            if (heads.Any(h => name == h || name.StartsWith(h + ".", StringComparison.Ordinal)))
            {
                continue;
            }
            hasOutputHead |= name == model.OutputHeadModule;
            total += layer.InFeatures * layer.OutFeatures;
        }
        if (model.IsCausalLanguageModel && !hasOutputHead)
        {
            total += (long)model.Config.VocabularySize * model.Config.ModelWidth;
        }
        return total;
    }

    /// <summary>FLOPs per token for <paramref name="kind"/> with P matmul parameters, L layers, S tokens, width d.</summary>
    public static double PerToken(FlopKind kind, long matmulParameters, int layers, int sequenceLength, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(matmulParameters);
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        ArgumentOutOfRangeException.ThrowIfNegative(sequenceLength);
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        double attention = (double)layers * sequenceLength * width;
        return kind switch
        {
            FlopKind.Forward => 2.0 * matmulParameters + 4 * attention,
            FlopKind.LoraTraining => 4.0 * matmulParameters + 12 * attention,
            FlopKind.FullTraining => 6.0 * matmulParameters + 12 * attention,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown FLOP kind."),
        };
    }

    /// <summary>FLOPs per token of <paramref name="model"/> at <paramref name="sequenceLength"/>.</summary>
    public static double PerToken(FlopKind kind, PretrainedModel model, int sequenceLength) =>
        PerToken(kind, MatmulParameters(model), model.Config.LayerCount, sequenceLength, model.Config.ModelWidth);
}
