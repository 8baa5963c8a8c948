using System.Text.Json.Nodes;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Bert;
using Microsoft.ML.Lora.Models.Gpt2;
using ArchitectureModels = Microsoft.ML.Lora.Tests.Models.TinyModels;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

/// <summary>Loading and saving GPT-2 and BERT-family checkpoints, including the layouts older HF files use.</summary>
public class ArchitectureCheckpointTests
{
    private static string TinyGpt2 => SharedData.PathOf("models/tiny-random-gpt2");

    [Fact]
    public void TinyRandomGpt2LoadsWithConv1DOrientationKept()
    {
        using var model = Assert.IsType<Gpt2LMHeadModel>(PretrainedModelLoader.Load(TinyGpt2));
        using var file = SafetensorsFile.Open(Path.Combine(TinyGpt2, "model.safetensors"));
        Assert.Null(model.lm_head);   // tied to wte
        var state = model.state_dict();
        Assert.Equal(64, state.Count);
        foreach (var entry in file.Entries)
        {
            using var stored = file.ReadTensor(entry.Name);
            TensorAssert.BitExact(stored, state[entry.Name], entry.Name);
        }
        Assert.Equal(new long[] { 32, 96 }, model.transformer.h[0].attn.c_attn.weight.shape);
        Assert.True(model.transformer.h[0].attn.c_attn.FanInFanOut);
    }

    [Fact]
    public void Gpt2BaseModelCheckpointWithMaskBuffersLoads()
    {
        // The layout of OpenAI's "gpt2" on the hub: saved from GPT2Model (no "transformer." prefix) with the
        // causal-mask buffers h.N.attn.bias / h.N.attn.masked_bias stored.
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        using (var source = SafetensorsFile.Open(Path.Combine(TinyGpt2, "model.safetensors")))
        {
            var renamed = source.ReadAll().ToDictionary(kv => kv.Key["transformer.".Length..], kv => kv.Value);
            for (int layer = 0; layer < 5; layer++)
            {
                renamed[$"h.{layer}.attn.bias"] = tril(ones(512, 512)).view(1, 1, 512, 512);
                renamed[$"h.{layer}.attn.masked_bias"] = tensor(-1e4f);
            }
            SafetensorsWriter.Write(folder.File("model.safetensors"), renamed);
        }
        File.Copy(Path.Combine(TinyGpt2, "config.json"), folder.File("config.json"));
        using var reference = PretrainedModelLoader.Load(TinyGpt2);
        using var model = ArchitectureModels.Create(HfConfigFile.Read(folder.Path));
        using var checkpoint = SafetensorsCheckpoint.Open(folder.Path);
        var report = PretrainedModelLoader.LoadWeights(model, checkpoint);
        Assert.Equal("transformer", report.BasePrefixAdded);
        Assert.Equal(10, report.Ignored.Count);
        Assert.All(report.Ignored, k => Assert.Contains(".attn.", k));
        TensorAssert.SameState(reference, model);
    }

    [Fact]
    public void Gpt2SavesTiedAndReloadsIdentically()
    {
        using var folder = new TempFolder();
        using var original = PretrainedModelLoader.Load(TinyGpt2);
        HfModelWriter.Save(original, folder.Path, extraFiles: HfModelWriter.TokenizerFilesIn(TinyGpt2));
        using (var written = SafetensorsFile.Open(folder.File("model.safetensors")))
        using (var source = SafetensorsFile.Open(Path.Combine(TinyGpt2, "model.safetensors")))
        {
            // Same tensors as HF wrote (one wte, no lm_head), so the file is byte-identical.
            Assert.Equal(source.Entries.Select(e => e.Name), written.Entries.Select(e => e.Name));
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(TinyGpt2, "model.safetensors")), File.ReadAllBytes(folder.File("model.safetensors")));
        var config = JsonNode.Parse(File.ReadAllText(folder.File("config.json")))!;
        Assert.Equal("GPT2LMHeadModel", config["architectures"]![0]!.GetValue<string>());
        Assert.Equal("4.36.2", config["transformers_version"]!.GetValue<string>());
        using var reloaded = PretrainedModelLoader.Load(folder.Path);
        TensorAssert.SameState(original, reloaded);
    }

    [Fact]
    public void OriginalBertCheckpointLayoutLoads()
    {
        // bert-base-uncased's file: LayerNorm "gamma"/"beta", pretraining heads cls.*, the position_ids buffer.
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        using var original = ArchitectureModels.Create(ArchitectureModels.Bert("bert"), seed: 3);
        var legacy = original.state_dict().ToDictionary(
            kv => kv.Key.Contains("LayerNorm.", StringComparison.Ordinal) ? kv.Key.Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta") : kv.Key,
            kv => kv.Value);
        Assert.Contains("bert.embeddings.LayerNorm.gamma", legacy.Keys);
        legacy["cls.predictions.bias"] = zeros(61);
        legacy["cls.predictions.transform.dense.weight"] = zeros(16, 16);
        legacy["cls.seq_relationship.weight"] = zeros(2, 16);
        legacy["bert.embeddings.position_ids"] = arange(32).unsqueeze(0);
        SafetensorsWriter.Write(folder.File("model.safetensors"), legacy);
        using var model = ArchitectureModels.Create(ArchitectureModels.Bert("bert"), seed: 4);
        using var checkpoint = SafetensorsCheckpoint.Open(folder.Path);
        var report = PretrainedModelLoader.LoadWeights(model, checkpoint);
        Assert.Equal(4, report.Ignored.Count);
        TensorAssert.SameState(original, model);
    }

    [Fact]
    public void DistilBertMaskedLmCheckpointLoadsIntoTheClassifierBody()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        using var original = ArchitectureModels.Create(ArchitectureModels.Bert("distilbert"), seed: 5);
        var state = original.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        state["vocab_transform.weight"] = zeros(16, 16);
        state["vocab_layer_norm.weight"] = ones(16);
        state["vocab_projector.bias"] = zeros(61);
        SafetensorsWriter.Write(folder.File("model.safetensors"), state);
        using var model = ArchitectureModels.Create(ArchitectureModels.Bert("distilbert"), seed: 6);
        using var checkpoint = SafetensorsCheckpoint.Open(folder.Path);
        var report = PretrainedModelLoader.LoadWeights(model, checkpoint);
        Assert.Equal(["vocab_layer_norm.weight", "vocab_projector.bias", "vocab_transform.weight"], report.Ignored);
        TensorAssert.SameState(original, model);
    }

    [Theory]
    [InlineData("bert", "BertForSequenceClassification")]
    [InlineData("roberta", "RobertaForSequenceClassification")]
    [InlineData("distilbert", "DistilBertForSequenceClassification")]
    public void EncoderClassifierRoundTripsThroughAnHfFolder(string modelType, string architecture)
    {
        using var original = ArchitectureModels.Create(ArchitectureModels.Bert(modelType), seed: 8);
        HfModelWriterTests.AssertClassifierRoundTrip(original, 4, architecture);
    }

    [Fact]
    public void EncoderClassifierWithoutItsHeadInTheCheckpointIsReportedMissing()
    {
        using var folder = new TempFolder();
        using var original = ArchitectureModels.Create(ArchitectureModels.Bert("bert"), seed: 10);
        original.AddClassificationHead(2, new Generator(11));
        HfModelWriter.Save(original, folder.Path);
        CheckpointEdits.RemoveTensors(folder.Path, key => key.StartsWith("classifier.", StringComparison.Ordinal));
        var error = Assert.Throws<CheckpointMismatchException>(() => PretrainedModelLoader.Load(folder.Path));
        Assert.Equal(["classifier.weight", "classifier.bias"], error.MissingKeys.Order().Reverse());
    }
}
