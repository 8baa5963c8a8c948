namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// A safetensors file (or a sharded checkpoint's index) is malformed or inconsistent: the loader refuses it
/// rather than reading outside the data or guessing. The message names the file and the problem.
/// </summary>
public sealed class SafetensorsFormatException : IOException
{
    /// <summary>Creates the exception for a file and a description of what is wrong with it.</summary>
    public SafetensorsFormatException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file that is malformed (or "&lt;memory&gt;" for an in-memory buffer).</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}
