namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// A checkpoint file is malformed or inconsistent, so it is refused rather than read outside its data or
/// guessed at. The message names the file and the problem. (An <see cref="IOException"/>:
/// <see cref="InvalidDataException"/> is sealed.)
/// </summary>
public abstract class CheckpointFormatException : IOException
{
    /// <summary>Creates the exception for a file and a description of what is wrong with it.</summary>
    protected CheckpointFormatException(string filePath, string problem, Exception? inner)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file that is malformed (or the name given to an in-memory image).</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}

/// <summary>A safetensors file or a sharded checkpoint's index is malformed, or a shard is missing.</summary>
public sealed class SafetensorsFormatException(string filePath, string problem, Exception? inner = null)
    : CheckpointFormatException(filePath, problem, inner);

/// <summary>A llama2.c checkpoint or tokenizer file is malformed (bad header, wrong size).</summary>
public sealed class Llama2cFormatException(string filePath, string problem, Exception? inner = null)
    : CheckpointFormatException(filePath, problem, inner);
