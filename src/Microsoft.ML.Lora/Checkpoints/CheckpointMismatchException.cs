namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// A checkpoint's tensors do not fit the model built from its config: keys are missing, unexpected, or have
/// another shape. The message lists the first few of each.
/// </summary>
public sealed class CheckpointMismatchException(string checkpointPath, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> shapeMismatches)
    : Exception($"{checkpointPath}: the checkpoint does not match the model. {Describe(missing, unexpected, shapeMismatches)}")
{
    private const int Shown = 5;

    /// <summary>The checkpoint file or index.</summary>
    public string CheckpointPath { get; } = checkpointPath;

    /// <summary>Model keys with no tensor in the checkpoint.</summary>
    public IReadOnlyList<string> MissingKeys { get; } = missing;

    /// <summary>Checkpoint tensors the model has no parameter for.</summary>
    public IReadOnlyList<string> UnexpectedKeys { get; } = unexpected;

    /// <summary>"key: checkpoint [a, b] vs model [c, d]" for each tensor whose shape differs.</summary>
    public IReadOnlyList<string> ShapeMismatches { get; } = shapeMismatches;

    private static string Describe(IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> shapes)
    {
        static string List(string what, IReadOnlyList<string> items) =>
            items.Count == 0 ? "" : $"{items.Count} {what}: {string.Join(", ", items.Take(Shown))}{(items.Count > Shown ? ", ..." : "")}. ";
        return (List("missing", missing) + List("unexpected", unexpected) + List("with another shape", shapes)).TrimEnd();
    }
}
