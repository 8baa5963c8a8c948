namespace Microsoft.ML.Lora.Tests;

/// <summary>
/// Locates ../shared/data beside the repository root (LORA_SHARED_DATA overrides it). Tests that need
/// these real files fail with a clear message when they are missing; they never skip silently.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string> Root = new(FindRoot);

    /// <summary>The shared data folder.</summary>
    public static string Directory => Root.Value;

    /// <summary>The full path of a file or folder under shared/data; fails the test if it is missing.</summary>
    public static string PathOf(string relative)
    {
        var path = System.IO.Path.Combine(Directory, relative);
        if (!File.Exists(path) && !System.IO.Directory.Exists(path))
        {
            throw new FileNotFoundException($"Test data '{relative}' is missing from {Directory}. The tests need ../shared/data beside the repository (CI provides it).", path);
        }
        return path;
    }

    /// <summary>The repository root (the folder with LoraMlNet.sln).</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(System.IO.Path.Combine(dir.FullName, "LoraMlNet.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new DirectoryNotFoundException($"No LoraMlNet.sln above {AppContext.BaseDirectory}.");
        }
    }

    private static string FindRoot()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("LORA_SHARED_DATA");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }
        var candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(RepositoryRoot, "..", "shared", "data"));
        if (!System.IO.Directory.Exists(candidate))
        {
            throw new DirectoryNotFoundException($"Shared test data not found at {candidate}. Place the shared/ folder beside the repository root or set LORA_SHARED_DATA.");
        }
        return candidate;
    }
}
