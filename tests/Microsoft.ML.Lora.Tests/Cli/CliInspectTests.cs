using System.Text.Json.Nodes;
using Microsoft.ML.Lora.Analysis;
using Microsoft.ML.Lora.Checkpoints;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary><c>mllora inspect MODEL.zip</c> describes a fine-tuned model zip; folders and safetensors files are inspected as before.</summary>
public sealed class CliInspectTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The adapter tensors the zip holds, read with a plain zip reader and the safetensors parser.</summary>
    private static Dictionary<string, (string Dtype, long[] Shape)> AdapterTensorsIn(string zip)
    {
        using var archive = System.IO.Compression.ZipFile.OpenRead(zip);
        var entry = archive.Entries.Single(e => e.FullName.EndsWith("/Adapter.safetensors", StringComparison.Ordinal));
        using var stream = entry.Open();
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        using var file = SafetensorsFile.Load(buffer.ToArray());
        return file.Entries.ToDictionary(e => e.Name, e => (e.Dtype, e.Shape.ToArray()));
    }

    [Fact]
    public void JsonDescribesTheZip()
    {
        var zip = CliData.TrainSpamZip(_dir.Path, extra: ["--rank", "4", "--alpha", "8"]);
        var (code, output, error) = CliRunner.Run("inspect", zip, "--json");
        Assert.True(code == 0, error);
        var report = JsonNode.Parse(output)!.AsObject();
        Assert.Equal("mllora-model-zip", report["format"]!.GetValue<string>());
        var model = report["models"]!.AsArray().Single()!;
        Assert.Equal("binary", model["task"]!.GetValue<string>());
        Assert.Equal(["ham", "spam"], model["labels"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.Equal("SMS", model["text_column"]!.GetValue<string>());
        Assert.Equal("Label", model["label_column"]!.GetValue<string>());
        Assert.Equal(48, model["max_sequence_length"]!.GetValue<int>());
        var lora = model["lora"]!;
        Assert.Equal(4, lora["r"]!.GetValue<int>());
        Assert.Equal(8, lora["lora_alpha"]!.GetValue<double>());
        Assert.Contains("score", lora["modules_to_save"]!.AsArray().Select(m => m!.GetValue<string>()));
        var baseModel = model["base_model"]!;
        Assert.Equal(Path.GetFullPath(Stories260K.Folder), baseModel["path"]!.GetValue<string>());
        Assert.Equal("llama", baseModel["model_type"]!.GetValue<string>());
        Assert.False(baseModel["embedded"]!.GetValue<bool>());
        Assert.False(string.IsNullOrEmpty(baseModel["fingerprint"]!.GetValue<string>()));

        var expected = AdapterTensorsIn(zip);
        var tensors = model["adapter_tensors"]!.AsArray();
        Assert.Equal(expected.Count, tensors.Count);
        Assert.Contains(expected.Keys, k => k.Contains("lora_A", StringComparison.Ordinal));
        foreach (var tensor in tensors)
        {
            var (dtype, shape) = expected[tensor!["name"]!.GetValue<string>()];
            Assert.Equal(dtype, tensor["dtype"]!.GetValue<string>());
            Assert.Equal(shape, tensor["shape"]!.AsArray().Select(d => d!.GetValue<long>()));
        }

        // The rank each module type uses, from the adapter's own spectrum (issue 16), for r = 4 on q_proj and v_proj.
        var ranks = report["rank_used"]!.AsObject();
        Assert.Equal(["self_attn.q_proj", "self_attn.v_proj"], ranks.Select(r => r.Key).Order(StringComparer.Ordinal));
        var spectrum = AdapterSpectrum.Compute(LoraAdapterFactors.Read(zip));
        foreach (var (type, rank) in ranks)
        {
            Assert.Equal(4, rank!["r"]!.GetValue<int>());
            var modules = spectrum.Where(m => m.Module.EndsWith(type, StringComparison.Ordinal)).ToList();
            Assert.Equal(modules.Count, rank["modules"]!.GetValue<int>());
            Assert.Equal(modules.Average(m => m.EffectiveRankEntropy), rank["effective_rank_entropy"]!.GetValue<double>(), 12);
            Assert.InRange(rank["effective_rank_entropy"]!.GetValue<double>(), 1, 4);
        }
    }

    [Fact]
    public void TextNamesTaskLabelsBaseAndTensors()
    {
        var zip = CliData.TrainSpamZip(_dir.Path);
        var (code, output, error) = CliRunner.Run("inspect", zip);
        Assert.True(code == 0, error);
        Assert.Contains("binary", output);
        Assert.Contains("ham, spam", output);
        Assert.Contains(Path.GetFullPath(Stories260K.Folder), output);
        Assert.Contains("lora_A", output);
        Assert.Contains("q_proj", output);
        Assert.Contains("Rank used self_attn.q_proj", output);
    }

    [Fact]
    public void FoldersAreInspectedAsBefore()
    {
        var (code, output, error) = CliRunner.Run("inspect", Stories260K.Folder, "--json");
        Assert.True(code == 0, error);
        Assert.Equal("hf-model", JsonNode.Parse(output)!["format"]!.GetValue<string>());
    }

    [Fact]
    public void AZipThatIsNoModelSaysSo()
    {
        var zip = Path.Combine(_dir.Path, "other.zip");
        using (var archive = System.IO.Compression.ZipFile.Open(zip, System.IO.Compression.ZipArchiveMode.Create))
        {
            using var writer = new StreamWriter(archive.CreateEntry("readme.txt").Open());
            writer.Write("not a model");
        }
        var (code, _, error) = CliRunner.Run("inspect", zip);
        Assert.Equal(2, code);
        Assert.Contains("other.zip", error);
        Assert.DoesNotContain("safetensors header", error);
    }
}
