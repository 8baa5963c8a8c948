namespace Microsoft.ML.Lora.Models;

/// <summary>Token ids (or their mask) handed to a model cannot be run: the base of the typed input errors.</summary>
public class ModelInputException(string message) : ArgumentException(message);

/// <summary>A token id is negative or not below the model's vocabulary size.</summary>
public sealed class TokenIdOutOfRangeException(long tokenId, int vocabularySize)
    : ModelInputException($"Token id {tokenId} is outside the model's vocabulary (valid ids are 0..{vocabularySize - 1}).")
{
    /// <summary>The offending id.</summary>
    public long TokenId { get; } = tokenId;

    /// <summary>The model's vocabulary size.</summary>
    public int VocabularySize { get; } = vocabularySize;
}

/// <summary>A sequence is longer than the positions the model can encode (max_position_embeddings / n_positions).</summary>
public sealed class SequenceTooLongException(long length, int maxPositions)
    : ModelInputException($"The sequence has {length} positions but the model supports at most {maxPositions} (max_position_embeddings); truncate the input.")
{
    /// <summary>The requested length, including cached positions.</summary>
    public long Length { get; } = length;

    /// <summary>The model's limit.</summary>
    public int MaxPositions { get; } = maxPositions;
}

/// <summary>A prompt or batch row holds no tokens.</summary>
public sealed class EmptyInputException(string what)
    : ModelInputException($"{what} is empty: a model needs at least one token.");

/// <summary>An encoder-only model (BERT family) was asked for something only a causal LM has.</summary>
public sealed class LanguageModelHeadNotSupportedException(string modelType, string what)
    : NotSupportedException($"model_type '{modelType}' is an encoder without a causal language-model head: {what} is not supported.")
{
    /// <summary>The model type that was asked.</summary>
    public string ModelType { get; } = modelType;
}
