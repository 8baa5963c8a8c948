namespace Microsoft.ML.Lora.Models.Generation;

/// <summary>
/// How <see cref="TextGenerator"/> chooses tokens, with the meanings of HF's <c>GenerationConfig</c>
/// (repetition_penalty, then temperature, top_k, top_p, in HF's order).
/// </summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens to add to each prompt (HF max_new_tokens).</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Softmax temperature; 0 means greedy decoding (argmax, HF do_sample=False).</summary>
    public double Temperature { get; init; }

    /// <summary>Sample only among the k most likely tokens; 0 disables (HF top_k).</summary>
    public int TopK { get; init; }

    /// <summary>Sample only among the most likely tokens whose probabilities sum to at least p; 1 disables (HF top_p).</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>
    /// Divides positive (multiplies negative) logits of tokens already in the prompt or output (HF
    /// repetition_penalty); 1 disables.
    /// </summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Tokens that end a sequence; null means the model config's eos_token_id. Not included in the output.</summary>
    public IReadOnlyList<int>? EosTokenIds { get; init; }

    /// <summary>Texts that end a sequence once the decoded output contains them; the text is cut before the stop string.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Seed of the sampling generator, so sampled outputs repeat; null draws from torch's global generator.</summary>
    public long? Seed { get; init; }

    /// <summary>Reuse keys/values of earlier positions (same tokens, far less work); false recomputes the full sequence each step.</summary>
    public bool UseKvCache { get; init; } = true;

    /// <summary>The id used to left-pad shorter prompts of a batch (masked out); null means the first EOS id, else 0.</summary>
    public int? PadTokenId { get; init; }

    /// <summary>Whether tokens are sampled (temperature &gt; 0) rather than chosen greedily.</summary>
    public bool Samples => Temperature > 0;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxNewTokens, nameof(MaxNewTokens));
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be 0 (greedy) or a positive finite number.");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(TopK, nameof(TopK));
        if (!(TopP > 0 && TopP <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1].");
        }
        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty))
        {
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "RepetitionPenalty must be a positive finite number.");
        }
        if (StopStrings.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentOutOfRangeException(nameof(StopStrings), "Stop strings must not be empty.");
        }
    }
}

/// <summary>Why a sequence stopped growing.</summary>
public enum GenerationStopReason
{
    /// <summary><see cref="GenerationOptions.MaxNewTokens"/> tokens were added.</summary>
    MaxNewTokens,
    /// <summary>The model produced an end-of-sequence token.</summary>
    EndOfSequence,
    /// <summary>The decoded text reached a stop string.</summary>
    StopString,
    /// <summary>The sequence filled the model's positions (max_position_embeddings).</summary>
    ContextFull,
}

/// <summary>One prompt's continuation.</summary>
/// <param name="TokenIds">The generated ids (prompt and EOS excluded; with a stop string, up to the token that completed it).</param>
/// <param name="Text">The decoded continuation (cut before a stop string), or null without a decoder.</param>
/// <param name="StopReason">Why generation ended.</param>
public sealed record GenerationResult(IReadOnlyList<int> TokenIds, string? Text, GenerationStopReason StopReason);
