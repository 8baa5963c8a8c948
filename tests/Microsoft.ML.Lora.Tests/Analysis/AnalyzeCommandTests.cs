using System.Text.Json;
using Microsoft.ML.Lora.Analysis;
using Microsoft.ML.Lora.Tests.Cli;
using Microsoft.ML.Lora.Tests.MLNet;

namespace Microsoft.ML.Lora.Tests.Analysis;

/// <summary>Two small SMS-spam adapters on the real stories260K Llama, r = 4 and r = 16 with different seeds, saved by mllora train.</summary>
public sealed class TwoSmsSpamAdapters : IDisposable
{
    private readonly TempDirectory _dir = new();

    public TwoSmsSpamAdapters()
    {
        var data = Path.Combine(_dir.Path, "train.tsv");
        var rows = RealDataSets.Shuffled(RealDataSets.SmsSpam(), seed: 11).Take(64);
        File.WriteAllLines(data, new[] { "Label\tSMS" }.Concat(rows.Select(r => $"{(r.Label ? "spam" : "ham")}\t{r.Text.Replace('\t', ' ')}")));
        Rank4 = Train(data, rank: 4, seed: 1);
        Rank16 = Train(data, rank: 16, seed: 2);
    }

    public string Rank4 { get; }

    public string Rank16 { get; }

    public string Folder => _dir.Path;

    public void Dispose() => _dir.Dispose();

    private string Train(string data, int rank, int seed)
    {
        var zip = Path.Combine(_dir.Path, $"r{rank}.zip");
        var (code, _, error) = CliRunner.Run("train", "--task", "binary", "--model", Stories260K.Folder, "--data", data, "--text-column", "SMS",
            "--positive-label", "spam", "--epochs", "1", "--batch-size", "16", "--max-length", "32", "--lr", "0.01",
            "--rank", rank.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", zip);
        Assert.True(code == 0, error);
        return zip;
    }
}

/// <summary><c>mllora analyze</c> and the effective ranks of <c>mllora inspect</c>: files, JSON layouts, exit codes.</summary>
public sealed class AnalyzeCommandTests(TwoSmsSpamAdapters adapters) : IClassFixture<TwoSmsSpamAdapters>, IDisposable
{
    private readonly TempDirectory _out = new();

    public void Dispose() => _out.Dispose();

    private static JsonElement ReadJson(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement;

    private static void AssertPng(string path)
    {
        Assert.True(File.Exists(path), path);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(path)[..4]);
    }

    [Fact]
    public void ZipFactorsEqualThoseOfTheExportedPeftFolder()
    {
        var peft = Path.Combine(_out.Path, "peft");
        var (code, _, error) = CliRunner.Run("peft", "export", "--model", adapters.Rank4, "--out", peft);
        Assert.True(code == 0, error);
        var fromZip = LoraAdapterFactors.Read(adapters.Rank4);
        var fromPeft = LoraAdapterFactors.Read(peft);
        Assert.Equal(Enumerable.Range(0, 5).SelectMany(i => new[] { $"model.layers.{i}.self_attn.q_proj", $"model.layers.{i}.self_attn.v_proj" }), fromZip.Modules.Select(m => m.Module));
        Assert.Equal(fromPeft.Modules.Select(m => m.Module), fromZip.Modules.Select(m => m.Module));
        foreach (var (z, p) in fromZip.Modules.Zip(fromPeft.Modules))
        {
            Assert.Equal(p.A.Values.ToArray(), z.A.Values.ToArray());
            Assert.Equal(p.B.Values.ToArray(), z.B.Values.ToArray());
            Assert.Equal(16.0 / 4, z.Scale);   // mllora train's default α 16
        }
        Assert.NotNull(fromZip.RecordedBase);
    }

    [Fact]
    public void SpectrumAndSimilarityOfTheRealPeftAdaptersWithoutTheirBases()
    {
        var gpt2 = SharedData.PathOf("adapters/peft-gpt2-emotion");
        var report = Path.Combine(_out.Path, "new", "report");   // --out need not exist yet
        var (code, output, error) = CliRunner.Run("analyze", "spectrum", "--adapter", gpt2, "--out", report);
        Assert.True(code == 0, error);
        Assert.Contains("transformer.h.11.attn.c_attn", output);
        AssertPng(Path.Combine(report, "spectrum.png"));
        var spectrum = ReadJson(Path.Combine(report, "spectrum.json"));
        Assert.Equal(["modules"], spectrum.EnumerateObject().Select(p => p.Name));
        var modules = spectrum.GetProperty("modules").EnumerateObject().ToList();
        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"transformer.h.{i}.attn.c_attn"), modules.Select(m => m.Name));
        Assert.Equal(["singular_values", "energy", "effective_rank", "effective_rank_entropy", "effective_rank_energy90", "r"], modules[0].Value.EnumerateObject().Select(p => p.Name));
        Assert.Equal(8, modules[0].Value.GetProperty("singular_values").GetArrayLength());
        var expected = AdapterSpectrum.Compute(LoraAdapterFactors.Read(gpt2))[0];
        Assert.Equal(expected.EffectiveRankEntropy, modules[0].Value.GetProperty("effective_rank").GetDouble());

        var imdb = SharedData.PathOf("adapters/peft-distilbert-imdb");
        (code, _, error) = CliRunner.Run("analyze", "similarity", "--adapter", imdb, "--other", imdb, "--out", _out.Path);
        Assert.True(code == 0, error);
        var similarity = ReadJson(Path.Combine(_out.Path, "similarity.json"));
        var first = similarity.GetProperty("modules").EnumerateObject().First();
        Assert.Equal("distilbert.transformer.layer.0.attention.q_lin", first.Name);
        Assert.Equal(["phi"], first.Value.EnumerateObject().Select(p => p.Name));
        Assert.All(first.Value.GetProperty("phi").EnumerateArray().SelectMany(row => row.EnumerateArray()), p => Assert.Equal(1, p.GetDouble(), 9));
        AssertPng(Path.Combine(_out.Path, "similarity-attention.q_lin.png"));
        AssertPng(Path.Combine(_out.Path, "similarity-attention.v_lin.png"));
    }

    [Fact]
    public void AmplificationWithoutTheBaseExitsTwoSayingSo()
    {
        var (code, _, error) = CliRunner.Run("analyze", "amplification", "--adapter", SharedData.PathOf("adapters/peft-gpt2-emotion"), "--out", _out.Path);
        Assert.Equal(2, code);
        Assert.StartsWith("error: amplification needs the base model", error);
        Assert.Contains("--base", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(_out.Path, "amplification.json")));
    }

    [Fact]
    public void AllFourAnalysesOnTwoTrainedZips()
    {
        var (code, output, error) = CliRunner.Run("analyze", "similarity", "--adapter", adapters.Rank4, "--other", adapters.Rank16, "--out", _out.Path);
        Assert.True(code == 0, error);
        Assert.Contains("phi(1,1)", output);
        var phi = ReadJson(Path.Combine(_out.Path, "similarity.json")).GetProperty("modules").GetProperty("model.layers.2.self_attn.v_proj").GetProperty("phi");
        Assert.Equal((4, 16), (phi.GetArrayLength(), phi[0].GetArrayLength()));
        var expected = SubspaceSimilarity.Compute(LoraAdapterFactors.Read(adapters.Rank4), LoraAdapterFactors.Read(adapters.Rank16)).Single(s => s.Module == "model.layers.2.self_attn.v_proj");
        Assert.Equal(expected.Phi[3][15], phi[3][15].GetDouble());
        AssertPng(Path.Combine(_out.Path, "similarity-self_attn.q_proj.png"));

        // The zip records its base (the stories260K folder), so amplification finds W without --base.
        (code, output, error) = CliRunner.Run("analyze", "amplification", "--adapter", adapters.Rank4, "--out", _out.Path);
        Assert.True(code == 0, error);
        Assert.Contains("amplification", output);
        var amplification = ReadJson(Path.Combine(_out.Path, "amplification.json"));
        Assert.Equal(["modules", "random_seed"], amplification.EnumerateObject().Select(p => p.Name));
        var q = amplification.GetProperty("modules").GetProperty("model.layers.0.self_attn.q_proj");
        Assert.Equal(["r", "projection_norm", "w_norm", "delta_w_norm", "amplification"], q.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["delta_w", "w", "random"], q.GetProperty("projection_norm").EnumerateObject().Select(p => p.Name));
        Assert.Equal(q.GetProperty("delta_w_norm").GetDouble() / q.GetProperty("projection_norm").GetProperty("delta_w").GetDouble(), q.GetProperty("amplification").GetDouble(), 12);
        Assert.True(q.GetProperty("projection_norm").GetProperty("w").GetDouble() <= q.GetProperty("w_norm").GetDouble());
        AssertPng(Path.Combine(_out.Path, "amplification.png"));

        (code, output, error) = CliRunner.Run("analyze", "summary", "--adapter", adapters.Rank16, "--base", Stories260K.Folder, "--out", _out.Path);
        Assert.True(code == 0, error);
        Assert.Contains("self_attn.v_proj", output);
        var summary = ReadJson(Path.Combine(_out.Path, "summary.json"));
        var v = summary.GetProperty("modules").GetProperty("model.layers.4.self_attn.v_proj");
        Assert.Equal(4, v.GetProperty("layer").GetInt32());
        Assert.Equal(v.GetProperty("delta_w_norm").GetDouble() / v.GetProperty("w_norm").GetDouble(), v.GetProperty("relative_change").GetDouble(), 12);
        Assert.Equal(["self_attn.q_proj", "self_attn.v_proj"], summary.GetProperty("by_module_type").EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(5, summary.GetProperty("by_layer").EnumerateObject().Count());
        AssertPng(Path.Combine(_out.Path, "summary.png"));

        (code, output, error) = CliRunner.Run("analyze", "spectrum", "--adapter", adapters.Rank16, "--out", _out.Path);
        Assert.True(code == 0, error);
        Assert.Equal(16, ReadJson(Path.Combine(_out.Path, "spectrum.json")).GetProperty("modules").GetProperty("model.layers.0.self_attn.q_proj").GetProperty("singular_values").GetArrayLength());
    }

    [Fact]
    public void InspectShowsTheRankEachModuleTypeUses()
    {
        var (code, output, error) = CliRunner.Run("inspect", SharedData.PathOf("adapters/peft-gpt2-emotion"));
        Assert.True(code == 0, error);
        var line = output.Split('\n').Single(l => l.StartsWith("Rank used attn.c_attn:", StringComparison.Ordinal));
        var expected = ModuleTypeRank.Of(AdapterSpectrum.Compute(LoraAdapterFactors.Read(SharedData.PathOf("adapters/peft-gpt2-emotion")))).Single();
        Assert.Contains($"r 8, effective rank {expected.MeanEffectiveRankEntropy.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)} (entropy, mean of 12)", line);

        (code, output, error) = CliRunner.Run("inspect", SharedData.PathOf("adapters/peft-distilbert-imdb"), "--json");
        Assert.True(code == 0, error);
        var details = JsonDocument.Parse(output).RootElement.GetProperty("details");
        Assert.StartsWith("r 8, effective rank ", details.GetProperty("Rank used attention.q_lin").GetString());
        Assert.StartsWith("r 8, effective rank ", details.GetProperty("Rank used attention.v_lin").GetString());
    }
}
