using System.Text.Json.Nodes;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;
using static Microsoft.ML.Lora.Tests.Checkpoints.PretrainedModelLoaderTests;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

public class HfModelWriterTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SavedModelLoadsBackIdentically(bool tied)
    {
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied), 31);
        var files = HfModelWriter.Save(original, folder.Path);
        Assert.Equal([folder.File("model.safetensors"), folder.File("config.json")], files);
        using var loaded = PretrainedModelLoader.Load(folder.Path);
        TensorAssert.SameState(original, loaded);
        using var weights = SafetensorsCheckpoint.Open(folder.Path);
        Assert.Equal(!tied, weights.Contains("lm_head.weight"));
        Assert.Equal("pt", weights.Files[0].Metadata["format"]);
        var config = JsonNode.Parse(File.ReadAllText(folder.File("config.json")))!;
        Assert.Equal("LlamaForCausalLM", config["architectures"]![0]!.GetValue<string>());
        Assert.Equal("float32", config["torch_dtype"]!.GetValue<string>());
        Assert.Equal(tied, config["tie_word_embeddings"]!.GetValue<bool>());
    }

    [Fact]
    public void ShardedSaveLoadsToTheSameTensorsAsSingleFile()
    {
        using var single = new TempFolder();
        using var sharded = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: false), 32);
        HfModelWriter.Save(original, single.Path);
        var files = HfModelWriter.Save(original, sharded.Path, maxShardBytes: 4096);
        Assert.Contains(sharded.File(SafetensorsCheckpoint.IndexFileName), files);
        Assert.True(files.Count(f => f.EndsWith(".safetensors", StringComparison.Ordinal)) > 2);
        using var a = PretrainedModelLoader.Load(single.Path);
        using var b = PretrainedModelLoader.Load(sharded.Path);
        TensorAssert.SameState(a, b);
    }

    [Fact]
    public void SavingInBfloat16StoresBf16AndRecordsIt()
    {
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: true), 33);
        HfModelWriter.Save(original, folder.Path, ScalarType.BFloat16);
        using (var weights = SafetensorsCheckpoint.Open(folder.Path))
        {
            Assert.All(weights.Entries, e => Assert.Equal("BF16", e.Dtype));
        }
        Assert.Contains("\"torch_dtype\": \"bfloat16\"", File.ReadAllText(folder.File("config.json")));
        using var loaded = PretrainedModelLoader.Load(folder.Path);
        TensorAssert.SameState(original, loaded, ScalarType.BFloat16);
        Assert.All(original.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));   // the model itself is untouched
    }

    [Fact]
    public void AdapterTensorsAreLeftOutOfTheBaseCheckpoint()
    {
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: true), 34);
        original.model.layers[0].self_attn.q_proj.AddAdapter("default", new LoraAdapterSettings(2, 4));
        Assert.Contains(original.state_dict().Keys, k => k.Contains(".lora_A.", StringComparison.Ordinal));
        HfModelWriter.Save(original, folder.Path);
        using var weights = SafetensorsCheckpoint.Open(folder.Path);
        Assert.DoesNotContain(weights.Entries, e => e.Name.Contains("lora", StringComparison.Ordinal));
        using var loaded = PretrainedModelLoader.Load(folder.Path);   // strict: no missing or unexpected keys
        TensorAssert.BitExact(original.model.layers[0].self_attn.q_proj.weight, ((LlamaForCausalLM)loaded).model.layers[0].self_attn.q_proj.weight);
    }

    [Fact]
    public void SelectionDropsAdapterKeysAndTiedHeadAndConvertsOnlyFloatingTensors()
    {
        using var scope = NewDisposeScope();
        var state = new Dictionary<string, Tensor>
        {
            ["model.layers.0.self_attn.q_proj.weight"] = ones(2, 2),
            ["model.layers.0.self_attn.q_proj.lora_A.default.weight"] = ones(1, 2),
            ["model.layers.0.self_attn.q_proj.lora_B.default.weight"] = ones(2, 1),
            ["lm_head.weight"] = ones(3, 2),
            ["embeddings.position_ids"] = arange(4),
        };
        var tied = HfModelWriter.SelectWeights(state, tiedEmbeddings: true, ScalarType.Float16);
        Assert.Equal(["embeddings.position_ids", "model.layers.0.self_attn.q_proj.weight"], tied.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(ScalarType.Float16, tied["model.layers.0.self_attn.q_proj.weight"].dtype);
        Assert.Equal(ScalarType.Int64, tied["embeddings.position_ids"].dtype);
        var untied = HfModelWriter.SelectWeights(state, tiedEmbeddings: false, dtype: null);
        Assert.Same(state["lm_head.weight"], untied["lm_head.weight"]);
        Assert.Equal(3, untied.Count);
    }

    /// <summary>
    /// Gives the model a head of <paramref name="labels"/>, saves it, checks config.json names
    /// <paramref name="architecture"/> with that many labels, and checks the reloaded model is identical.
    /// </summary>
    internal static void AssertClassifierRoundTrip(PretrainedModel original, int labels, string architecture)
    {
        using var folder = new TempFolder();
        original.AddClassificationHead(labels, new Generator(1));
        HfModelWriter.Save(original, folder.Path);
        var config = JsonNode.Parse(File.ReadAllText(folder.File("config.json")))!;
        Assert.Equal(architecture, config["architectures"]![0]!.GetValue<string>());
        Assert.Equal(labels, config["id2label"]!.AsObject().Count);
        using var loaded = PretrainedModelLoader.Load(folder.Path);
        Assert.Equal(labels, loaded.ClassificationLabels);
        TensorAssert.SameState(original, loaded);
        TensorAssert.SameClassificationLogits(original, loaded);
    }

    [Fact]
    public void ClassificationHeadRoundTripsAsSequenceClassification()
    {
        using var original = RandomModel(TinyLlama(tied: true), 35);
        AssertClassifierRoundTrip(original, 3, "LlamaForSequenceClassification");
    }

    [Fact]
    public void SequenceClassificationCheckpointWithoutLmHeadLoads()
    {
        // HF's LlamaForSequenceClassification has no lm_head; an untied config must still load from it.
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: false), 36);
        original.AddClassificationHead(2, new Generator(2));
        HfModelWriter.Save(original, folder.Path);
        CheckpointEdits.RemoveTensors(folder.Path, key => key == "lm_head.weight");
        using var loaded = PretrainedModelLoader.Load(folder.Path);
        TensorAssert.BitExact(original.state_dict()["score.weight"], loaded.state_dict()["score.weight"]);
    }

    [Fact]
    public void TokenizerFilesAreCopied()
    {
        using var folder = new TempFolder();
        using var original = RandomModel(TinyLlama(tied: true), 37);
        var source = SharedData.PathOf("models/tiny-random-gpt2");
        var tokenizerFiles = HfModelWriter.TokenizerFilesIn(source);
        Assert.Equal(["tokenizer.json", "vocab.json", "merges.txt"], tokenizerFiles.Select(Path.GetFileName));
        HfModelWriter.Save(original, folder.Path, extraFiles: tokenizerFiles);
        foreach (var file in tokenizerFiles)
        {
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(folder.File(Path.GetFileName(file))));
        }
        Assert.Throws<FileNotFoundException>(() => HfModelWriter.Save(original, folder.Path, extraFiles: [folder.File("absent.json")]));
    }
}
