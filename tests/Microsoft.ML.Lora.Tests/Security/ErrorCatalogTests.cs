using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Tests.Cli;
using MlLora.Cli.Commands;

namespace Microsoft.ML.Lora.Tests.Security;

/// <summary>
/// docs/errors.md is the catalogue of failures a user can cause. Every row must have a test whose name starts with
/// its id, ids run from E001 without gaps, and the exit code of each row is the one the CLI gives its exception type.
/// </summary>
public sealed class ErrorCatalogTests
{
    private sealed record Row(string Id, string[] Exceptions, int ExitCode);

    private static readonly Regex RowPattern = new(@"^\|\s*(E\d{3})\s*\|[^|]*\|\s*([^|]*?)\s*\|\s*(\d+)\s*\|", RegexOptions.Compiled);

    private static List<Row> Rows() =>
        [.. File.ReadLines(Path.Combine(SharedData.RepositoryRoot, "docs", "errors.md"))
            .Select(line => RowPattern.Match(line))
            .Where(m => m.Success)
            .Select(m => new Row(m.Groups[1].Value,
                [.. Regex.Matches(m.Groups[2].Value, "`([A-Za-z.]+)`").Select(e => e.Groups[1].Value)],
                int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)))];

    [Fact]
    public void CatalogueHasAtLeastThirtyRowsNumberedWithoutGaps()
    {
        var ids = Rows().Select(r => r.Id).ToList();
        Assert.True(ids.Count >= 30, $"docs/errors.md has {ids.Count} rows");
        Assert.Equal(Enumerable.Range(1, ids.Count).Select(i => $"E{i:D3}"), ids);
    }

    [Fact]
    public void EveryRowHasATestNamedAfterItsId()
    {
        var tests = typeof(ErrorCatalogTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance))
            .Where(m => m.GetCustomAttributes<FactAttribute>(inherit: true).Any())
            .Select(m => m.Name)
            .ToList();
        var missing = Rows().Where(r => !tests.Any(name => name.StartsWith(r.Id + "_", StringComparison.Ordinal))).Select(r => r.Id).ToList();
        Assert.True(missing.Count == 0, $"rows without a test named after them: {string.Join(", ", missing)}");
    }

    [Fact]
    public void EveryRowsExitCodeIsTheOneTheCliGivesItsException()
    {
        var assemblies = new[] { typeof(SafetensorsFormatException).Assembly, typeof(CliErrors).Assembly, typeof(IOException).Assembly, typeof(ArgumentException).Assembly };
        var types = assemblies.SelectMany(a => a.GetTypes()).Where(t => typeof(Exception).IsAssignableFrom(t)).GroupBy(t => t.Name).ToDictionary(g => g.Key, g => g.First());
        foreach (var row in Rows())
        {
            foreach (var name in row.Exceptions)
            {
                Assert.True(types.TryGetValue(name, out var type), $"{row.Id}: no exception type named {name}");
                Assert.True(CliErrors.ExitCodeFor(type!) == row.ExitCode, $"{row.Id}: {name} exits with {CliErrors.ExitCodeFor(type!)}, the catalogue says {row.ExitCode}");
            }
        }
    }

    [Fact]
    public void E010_MissingConfigJsonIsNamed()
    {
        using var dir = new TempDirectory();
        var folder = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(dir.Path, "base"));
        File.Delete(Path.Combine(folder, "config.json"));
        var e = Assert.Throws<FileNotFoundException>(() => PretrainedModelLoader.Load(folder).Dispose());
        Assert.Contains(Path.Combine(folder, "config.json"), e.Message, StringComparison.Ordinal);
        var (code, _, error) = CliRunner.Run("train", "--task", "binary", "--model", folder, "--data", CliData.SmsSubset(dir.Path, "t.tsv", 0, 8),
            "--text-column", "SMS", "--epochs", "1", "--out", Path.Combine(dir.Path, "m.zip"));
        Assert.Equal(CliErrors.UserError, code);
        Assert.Contains("config.json", error, StringComparison.Ordinal);
    }
}
