using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>
/// Checks a model's inputs before they reach an embedding lookup, which would otherwise fail deep in
/// libtorch with an untyped error (or, for positions, silently read past the table).
/// </summary>
public static class ModelInput
{
    /// <summary>
    /// Throws a <see cref="ModelInputException"/> when <paramref name="inputIds"/> is not a non-empty
    /// [batch, time] integer tensor of ids below the vocabulary size, when the mask's shape does not
    /// cover the cached plus new positions, or when the total length exceeds <paramref name="maxPositions"/>
    /// (null: no limit).
    /// </summary>
    public static void Validate(Tensor inputIds, Tensor? attentionMask, int vocabularySize, int? maxPositions, long pastLength = 0)
    {
        if (inputIds.dim() != 2)
        {
            throw new ModelInputException($"Token ids must have shape [batch, time]; got [{string.Join(", ", inputIds.shape)}].");
        }
        if (inputIds.dtype is not (ScalarType.Int64 or ScalarType.Int32))
        {
            throw new ModelInputException($"Token ids must be Int64 or Int32; got {inputIds.dtype}.");
        }
        if (inputIds.shape[0] == 0 || inputIds.shape[1] == 0)
        {
            throw new EmptyInputException("The token-id batch");
        }
        long total = pastLength + inputIds.shape[1];
        if (attentionMask is not null && (attentionMask.dim() != 2 || attentionMask.shape[0] != inputIds.shape[0] || attentionMask.shape[1] != total))
        {
            throw new ModelInputException(
                $"The attention mask has shape [{string.Join(", ", attentionMask.shape)}]; expected [{inputIds.shape[0]}, {total}] (cached plus new positions).");
        }
        if (maxPositions is { } limit && total > limit)
        {
            throw new SequenceTooLongException(total, limit);
        }
        using var scope = NewDisposeScope();
        long highest = inputIds.max().to(ScalarType.Int64).item<long>();
        if (highest >= vocabularySize)
        {
            throw new TokenIdOutOfRangeException(highest, vocabularySize);
        }
        long lowest = inputIds.min().to(ScalarType.Int64).item<long>();
        if (lowest < 0)
        {
            throw new TokenIdOutOfRangeException(lowest, vocabularySize);
        }
    }
}
