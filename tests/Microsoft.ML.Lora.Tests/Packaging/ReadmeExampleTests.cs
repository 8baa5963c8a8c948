namespace Microsoft.ML.Lora.Tests.Packaging;

/// <summary>
/// The README's minimal example is samples/ReadmeExample/Program.cs verbatim, so what CI runs (scripts/test.sh) is
/// what a reader copies; and the README's first fenced block is still the quick-start command.
/// </summary>
public sealed class ReadmeExampleTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(SharedData.RepositoryRoot, "README.md")).ReplaceLineEndings("\n");

    [Fact]
    public void TheMinimalExampleIsTheSampleThatCiRuns()
    {
        var section = Readme[Readme.IndexOf("## Minimal example", StringComparison.Ordinal)..];
        int start = section.IndexOf("```csharp\n", StringComparison.Ordinal) + "```csharp\n".Length;
        int end = section.IndexOf("```", start, StringComparison.Ordinal);
        var sample = File.ReadAllText(Path.Combine(SharedData.RepositoryRoot, "samples", "ReadmeExample", "Program.cs")).ReplaceLineEndings("\n");

        Assert.Equal(sample, section[start..end]);
    }

    [Fact]
    public void TheFirstFencedBlockRunsTheQuickStartAndTheTests()
    {
        int start = Readme.IndexOf("```bash\n", StringComparison.Ordinal) + "```bash\n".Length;
        var block = Readme[start..Readme.IndexOf("```", start, StringComparison.Ordinal)].Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(2, block.Length);
        Assert.StartsWith("bash scripts/quickstart.sh", block[0]);
        Assert.StartsWith("bash scripts/test.sh", block[1]);
    }
}
