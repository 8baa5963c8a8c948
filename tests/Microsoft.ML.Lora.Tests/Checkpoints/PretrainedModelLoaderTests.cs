using System.Text;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Llama;
using ArchitectureModels = Microsoft.ML.Lora.Tests.Models.TinyModels;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

public class PretrainedModelLoaderTests
{
    internal static LlamaConfig TinyLlama(bool tied) => ArchitectureModels.Llama(tie: tied);

    internal static LlamaForCausalLM RandomModel(LlamaConfig config, int seed) => (LlamaForCausalLM)ArchitectureModels.Create(config, seed);

    /// <summary>Writes config.json and the state dict (optionally edited) into a folder, the HF way.</summary>
    private static void WriteFolder(string folder, PretrainedModel model, long maxShardBytes = SafetensorsShardWriter.DefaultMaxShardBytes,
        Action<Dictionary<string, Tensor>>? edit = null)
    {
        var state = model.state_dict();
        edit?.Invoke(state);
        SafetensorsShardWriter.Write(folder, state, maxShardBytes, new Dictionary<string, string> { ["format"] = "pt" });
        HfConfigFile.Write(model.Config, Path.Combine(folder, HfConfigFile.FileName), ScalarType.Float32);
    }

    private static void AssertSameWeightsAndLogits(PretrainedModel expected, PretrainedModel actual)
    {
        TensorAssert.SameState(expected, actual);
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 1, 5, 9, 33, 2, 7 }).unsqueeze(0);
        expected.eval();
        TensorAssert.BitExact(expected.LanguageModelLogits(expected.ForwardHidden(ids)), actual.LanguageModelLogits(actual.ForwardHidden(ids)), "logits");
    }

    [Theory]
    [InlineData(true, SafetensorsShardWriter.DefaultMaxShardBytes)]
    [InlineData(false, SafetensorsShardWriter.DefaultMaxShardBytes)]
    [InlineData(false, 2048L)]
    public void SavedLlamaFolderLoadsToTheSameWeightsAndLogits(bool tied, long maxShardBytes)
    {
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied), 11);
        WriteFolder(folder.Path, original, maxShardBytes);
        Assert.Equal(maxShardBytes < 10_000, File.Exists(folder.File(SafetensorsCheckpoint.IndexFileName)));
        using var loaded = Assert.IsType<LlamaForCausalLM>(PretrainedModelLoader.Load(folder.Path));
        Assert.Equal(tied, loaded.lm_head is null);
        Assert.False(loaded.training);
        AssertSameWeightsAndLogits(original, loaded);
    }

    [Fact]
    public void TorchDtypeIsHonouredAndTheCallerCanOverrideIt()
    {
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: true), 12);
        WriteFolder(folder.Path, original);
        var configPath = folder.File("config.json");
        File.WriteAllText(configPath, File.ReadAllText(configPath).Replace("\"float32\"", "\"bfloat16\""));
        using var asConfigured = PretrainedModelLoader.Load(folder.Path);
        Assert.All(asConfigured.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        TensorAssert.BitExact(original.state_dict()["model.embed_tokens.weight"].to(ScalarType.BFloat16), asConfigured.state_dict()["model.embed_tokens.weight"]);
        using var overridden = PretrainedModelLoader.Load(folder.Path, ScalarType.Float32);
        AssertSameWeightsAndLogits(original, overridden);
    }

    [Fact]
    public void KnownUnusedKeysAreIgnoredAndReported()
    {
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: true), 13);
        using var scope = NewDisposeScope();
        WriteFolder(folder.Path, original, edit: s =>
        {
            s["lm_head.weight"] = s["model.embed_tokens.weight"].clone();   // stored although tied
            s["model.layers.0.self_attn.rotary_emb.inv_freq"] = ones(2);     // old Llama checkpoints' buffer
        });
        using var model = RandomModel(TinyLlama(tied: true), 99);
        using var checkpoint = SafetensorsCheckpoint.Open(folder.Path);
        var report = PretrainedModelLoader.LoadWeights(model, checkpoint);
        Assert.Equal(["lm_head.weight", "model.layers.0.self_attn.rotary_emb.inv_freq"], report.Ignored);
        Assert.Empty(report.Missing);
        Assert.Empty(report.Unexpected);
        AssertSameWeightsAndLogits(original, model);
    }

    [Fact]
    public void MissingUnexpectedAndMisshapenTensorsRaiseOneExceptionListingThem()
    {
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: false), 14);
        using var scope = NewDisposeScope();
        WriteFolder(folder.Path, original, edit: s =>
        {
            s.Remove("model.layers.1.mlp.up_proj.weight");
            s["model.layers.0.self_attn.k_proj.weight"] = s["model.layers.0.self_attn.k_proj.weight"].t().contiguous();
            s["score.weight"] = zeros(3, 16);
        });
        var error = Assert.Throws<CheckpointMismatchException>(() => PretrainedModelLoader.Load(folder.Path));
        Assert.Equal(["model.layers.1.mlp.up_proj.weight"], error.MissingKeys);
        Assert.Equal(["score.weight"], error.UnexpectedKeys);
        Assert.Equal(["model.layers.0.self_attn.k_proj.weight: checkpoint [16, 8] vs model [8, 16]"], error.ShapeMismatches);
        Assert.Contains(folder.File("model.safetensors"), error.Message);
        Assert.Contains("model.layers.1.mlp.up_proj.weight", error.Message);

        // Not strict: the same checkpoint loads what it can and reports the rest, but shapes still must match.
        using var model = RandomModel(TinyLlama(tied: false), 15);
        using var checkpoint = SafetensorsCheckpoint.Open(folder.Path);
        Assert.Throws<CheckpointMismatchException>(() => PretrainedModelLoader.LoadWeights(model, checkpoint, strict: false));
    }

    [Fact]
    public void NonStrictLoadingReportsMissingAndUnexpectedKeys()
    {
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: true), 16);
        using var scope = NewDisposeScope();
        WriteFolder(folder.Path, original, edit: s => { s.Remove("model.norm.weight"); s["extra.thing"] = ones(1); });
        using var model = RandomModel(TinyLlama(tied: true), 17);
        using var checkpoint = SafetensorsCheckpoint.Open(folder.Path);
        var report = PretrainedModelLoader.LoadWeights(model, checkpoint, strict: false);
        Assert.Equal(["model.norm.weight"], report.Missing);
        Assert.Equal(["extra.thing"], report.Unexpected);
        TensorAssert.BitExact(original.state_dict()["model.embed_tokens.weight"], model.state_dict()["model.embed_tokens.weight"]);
    }

    [Fact]
    public void CheckpointsSavedWithoutTheBaseModelPrefixLoad()
    {
        // HF base classes (GPT2Model, BertModel) save names without the prefix head classes add ("transformer.", "bert.").
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: true), 18);
        using var scope = NewDisposeScope();
        var stripped = original.state_dict().ToDictionary(kv => kv.Key["model.".Length..], kv => kv.Value);
        SafetensorsWriter.Write(folder.File("model.safetensors"), stripped);
        using var model = RandomModel(TinyLlama(tied: true), 19);
        using var checkpoint = SafetensorsCheckpoint.Open(folder.Path);
        var report = PretrainedModelLoader.LoadWeights(model, checkpoint);
        Assert.Equal("model", report.BasePrefixAdded);
        AssertSameWeightsAndLogits(original, model);
    }

    [Fact]
    public void FolderWithPickleWeightsOnlyIsRefusedBeforeBuildingTheModel()
    {
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: true), 20);
        HfConfigFile.Write(original.Config, folder.File("config.json"));
        File.WriteAllBytes(folder.File("pytorch_model.bin"), Encoding.ASCII.GetBytes("PK\u0003\u0004 not really"));
        var error = Assert.Throws<UnsupportedCheckpointFormatException>(() => PretrainedModelLoader.Load(folder.Path));
        Assert.Contains("safe_serialization=True", error.Message);
    }

    [Fact]
    public void FolderWithoutConfigIsAFileNotFound()
    {
        using var folder = new TempFolder();
        var error = Assert.Throws<FileNotFoundException>(() => PretrainedModelLoader.Load(folder.Path));
        Assert.Contains("config.json", error.Message);
    }
}
