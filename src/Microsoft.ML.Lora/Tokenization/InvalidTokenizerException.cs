namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// A tokenizer file is missing, malformed, or of a kind this library does not support. The message
/// names the file (or the folder that lacks one) and the problem.
/// </summary>
public sealed class InvalidTokenizerException : Exception
{
    /// <summary>Creates the exception for a file and what is wrong with it.</summary>
    public InvalidTokenizerException(string source, string problem, Exception? inner = null)
        : base($"{source}: {problem}", inner)
    {
        TokenizerSource = source;
        Problem = problem;
    }

    /// <summary>The file (or folder) the tokenizer was read from.</summary>
    public string TokenizerSource { get; }

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}
