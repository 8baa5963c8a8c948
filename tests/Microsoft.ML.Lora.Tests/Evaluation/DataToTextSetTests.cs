using Microsoft.ML.Lora.Evaluation;
using Microsoft.ML.Lora.Tests.Checkpoints;

namespace Microsoft.ML.Lora.Tests.Evaluation;

/// <summary>Reading the E2E files of the LoRA repository and grouping references by meaning representation.</summary>
public sealed class DataToTextSetTests
{
    [Fact]
    public void TheE2ETestSetHas630MeaningRepresentationsWith4693References()
    {
        var pairs = DataToTextSet.ReadPairs(SharedData.PathOf("datasets/e2e/test.txt"));
        var groups = DataToTextSet.Group(pairs);
        Assert.Equal(4693, pairs.Count);
        Assert.Equal(630, groups.Count);
        Assert.Equal(4693, groups.Sum(g => g.References.Count));
        Assert.Equal("name : Blue Spice | Type : coffee shop | area : city centre", groups[0].MeaningRepresentation);
        Assert.Equal("A coffee shop in the city centre area called Blue Spice .", groups[0].References[0]);
        Assert.Equal(groups.Count, groups.Select(g => g.MeaningRepresentation).Distinct().Count());
    }

    [Fact]
    public void GroupsKeepFirstAppearanceOrderEvenWhenNotConsecutive()
    {
        var groups = DataToTextSet.Group([("b", "1"), ("a", "2"), ("b", "3")]);
        Assert.Equal(["b", "a"], groups.Select(g => g.MeaningRepresentation));
        Assert.Equal(["1", "3"], groups[0].References);
    }

    [Fact]
    public void ALineWithoutTheSeparatorNamesFileAndLine()
    {
        using var temp = new TempFolder();
        var path = temp.File("bad.txt");
        File.WriteAllLines(path, ["name : A||An A.", "", "name : B but no reference"]);
        var error = Assert.Throws<InvalidDataException>(() => DataToTextSet.ReadPairs(path));
        Assert.Contains("bad.txt: line 3", error.Message, StringComparison.Ordinal);
    }
}
