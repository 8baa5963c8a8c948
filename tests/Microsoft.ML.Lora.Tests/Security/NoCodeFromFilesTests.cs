using System.Text.RegularExpressions;

namespace Microsoft.ML.Lora.Tests.Security;

/// <summary>
/// Model files come from strangers, so no reader may run code from one: this scans every .cs and .csproj under
/// src/ for the .NET and TorchSharp APIs that deserialize types or code from bytes — BinaryFormatter and its
/// relatives, Json.NET's TypeNameHandling, TorchSharp's <c>torch.load</c>/<c>torch.jit.load</c> (TorchScript runs
/// code), and the pickle readers (TorchSharp.PyBridge, Razorvine.Pickle, any Unpickler).
/// </summary>
public sealed class NoCodeFromFilesTests
{
    private static readonly Regex Forbidden = new(
        @"\bBinaryFormatter\b|\bNetDataContractSerializer\b|\bSoapFormatter\b|\bLosFormatter\b|\bObjectStateFormatter\b|\bTypeNameHandling\b"
        + @"|\btorch\s*\.\s*load\s*\(|\bjit\s*\.\s*load\s*\(|\bload_py\s*\(|\bUnpickler\b|\bPyBridge\b|Razorvine|\bpickle\s*\.\s*loads?\s*\(",
        RegexOptions.Compiled);

    [Fact]
    public void SourceHasNoDeserializerThatRunsCodeFromFiles()
    {
        var src = Path.Combine(SharedData.RepositoryRoot, "src");
        var files = Directory.EnumerateFiles(src, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".csproj", StringComparison.Ordinal))
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .ToList();
        Assert.True(files.Count > 100, $"only {files.Count} source files found under {src}: the scan is looking in the wrong place");
        var hits = files
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Path.GetRelativePath(src, f), Line: i + 1, Text: line)))
            .Where(l => Forbidden.IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Assert.True(hits.Count == 0, "code-running deserializers in src/:\n" + string.Join("\n", hits));
    }

    [Theory]
    [InlineData("var f = new BinaryFormatter();")]
    [InlineData("var m = torch.load(path);")]
    [InlineData("var s = torch.jit.load(file);")]
    [InlineData("module.load_py(stream);")]
    [InlineData("using var u = new Unpickler();")]
    public void ScanRecognisesEachForbiddenCall(string line) => Assert.Matches(Forbidden, line);

    [Theory]
    [InlineData("if (SafetensorsCheckpoint.IsPickleFile(fullPath))")]
    [InlineData("SafetensorsFile.Load(bytes, name);")]
    public void ScanLeavesThePickleRefusalAndSafetensorsReadsAlone(string line) => Assert.DoesNotMatch(Forbidden, line);
}
