namespace Microsoft.ML.Lora.Adapters;

/// <summary>A safe merge found NaN or Inf in a merged weight and left the model unchanged.</summary>
public sealed class UnsafeMergeException(string modulePath, string adapter)
    : Exception($"Merging adapter '{adapter}' into {modulePath} produces NaN or Inf; the model was left unmerged.")
{
    /// <summary>The layer whose merged weight is not finite.</summary>
    public string ModulePath { get; } = modulePath;

    /// <summary>The adapter being merged.</summary>
    public string Adapter { get; } = adapter;
}

/// <summary>
/// An adapter does not fit the model it is loaded onto (made for a different base): tensors naming modules
/// the model lacks, targeted modules without tensors, or shapes that differ. The message lists the first ones.
/// </summary>
public sealed class AdapterMismatchException : Exception
{
    /// <summary>How many mismatches the message lists at most.</summary>
    public const int ListedMismatches = 10;

    /// <summary>Creates the exception for an adapter source and its mismatches.</summary>
    public AdapterMismatchException(string source, IReadOnlyList<string> mismatches)
        : base(Describe(source, mismatches))
    {
        AdapterSource = source;
        Mismatches = mismatches;
    }

    /// <summary>The adapter folder or file.</summary>
    public string AdapterSource { get; }

    /// <summary>Every mismatch found, one sentence each.</summary>
    public IReadOnlyList<string> Mismatches { get; }

    private static string Describe(string source, IReadOnlyList<string> mismatches)
    {
        var listed = string.Join(Environment.NewLine, mismatches.Take(ListedMismatches).Select(m => "  - " + m));
        var more = mismatches.Count > ListedMismatches ? $"{Environment.NewLine}  … and {mismatches.Count - ListedMismatches} more" : "";
        return $"{source}: the adapter does not fit this model ({mismatches.Count} mismatch(es)); was it made for a different base model?{Environment.NewLine}{listed}{more}";
    }
}
