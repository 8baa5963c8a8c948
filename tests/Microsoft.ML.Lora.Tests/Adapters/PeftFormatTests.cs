using System.Buffers.Binary;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models.Llama;
using Microsoft.ML.Lora.Tests.Checkpoints;
using static Microsoft.ML.Lora.Tests.Adapters.AdapterTestModels;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Adapters;

/// <summary>PEFT folders written and read back on small Llamas: names, shapes, sizes and mismatch errors.</summary>
public class PeftFormatTests
{
    [Fact]
    public void ExportUsesPeftNamesAndImportReproducesTheAdaptedModel()
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        var model = TinyLlama();
        model.AddClassificationHead(3);
        var lora = new LoraModel(model);
        var config = new LoraConfig { Rank = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj", "embed_tokens"], ModulesToSave = ["score"], TaskType = "SEQ_CLS" };
        lora.AddAdapter("mine", config, seed: 1);
        RandomizeB(lora, "mine", 2);
        using (no_grad())
        {
            model.model.embed_tokens.LoraEmbeddingA("mine").normal_();   // PEFT starts it at zero
        }
        PeftAdapterFormat.Export(lora, folder.Path, "mine");

        using (var file = SafetensorsFile.Open(folder.File(PeftAdapterFormat.WeightsFileName)))
        {
            var names = file.Entries.Select(e => e.Name).ToHashSet();
            Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", names);
            Assert.Contains("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", names);
            Assert.Contains("base_model.model.model.embed_tokens.lora_embedding_A", names);
            Assert.Contains("base_model.model.score.weight", names);
            Assert.Equal(11, names.Count);
            Assert.All(file.Entries, e => Assert.Equal(ScalarType.Float32, e.ScalarType));
            Assert.Equal([8L, 4], file.Entry("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight").Shape);
            Assert.Equal([4L, TinyConfig().VocabSize], file.Entry("base_model.model.model.embed_tokens.lora_embedding_A").Shape);
        }

        var fresh = TinyLlama();   // same seed: the same base weights
        var report = PeftAdapterFormat.Import(fresh, folder.Path, "theirs");
        Assert.Equal(11, report.TensorCount);
        Assert.Equal(["score"], report.SavedModules);
        Assert.Equal(3, fresh.ClassificationLabels);   // the saved head was attached
        var ids = Ids(2, 5);
        using var _ = no_grad();
        var expected = model.ClassificationLogits(ids, ones_like(ids));
        var actual = fresh.ClassificationLogits(ids, ones_like(ids));
        Assert.Equal(0.0, MaxDiff(expected, actual));
        using var again = new TempFolder();
        PeftAdapterFormat.Export(report.Model, again.Path, "theirs");
        AssertSameTensors(folder.File(PeftAdapterFormat.WeightsFileName), again.File(PeftAdapterFormat.WeightsFileName));
        JsonAssert.Equivalent(File.ReadAllText(folder.File(LoraConfig.FileName)), File.ReadAllText(again.File(LoraConfig.FileName)));
    }

    [Fact]
    public void DoraMagnitudeIsSavedWithoutTheWeightSuffix()
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        var lora = new LoraModel(TinyLlama());
        var config = QvConfig();
        config.UseDora = true;
        lora.AddAdapter("default", config, seed: 1);
        var tensors = PeftStateDict.Export(lora, "default");
        Assert.Equal([16L], tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector"].shape);
        Assert.Equal([8L], tensors["base_model.model.model.layers.0.self_attn.v_proj.lora_magnitude_vector"].shape);
        Assert.Equal(12, tensors.Count);
    }

    [Fact]
    public void AdapterFileSizeIsWhatRankTargetsAndDtypeImply()
    {
        // SmolLM2-135M's shape: hidden 576, 30 layers, 9 heads, 3 KV heads (head_dim 64), intermediate 1536, vocab 49152.
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        var config = new LlamaConfig
        {
            VocabSize = 49152, HiddenSize = 576, IntermediateSize = 1536, NumHiddenLayers = 30,
            NumAttentionHeads = 9, NumKeyValueHeads = 3, TieWordEmbeddings = true,
        };
        var lora = new LoraModel(new LlamaForCausalLM(config));
        lora.AddAdapter("default", new LoraConfig { Rank = 8, Alpha = 16, TargetModules = ["q_proj", "v_proj"] }, seed: 1);
        PeftAdapterFormat.Export(lora, folder.Path);
        var path = folder.File(PeftAdapterFormat.WeightsFileName);

        // Per layer: q A [8,576] + B [576,8], v A [8,576] + B [192,8] = 15,360 fp32 values; 30 layers.
        const long values = 30L * (8 * 576 + 576 * 8 + 8 * 576 + 192 * 8);
        Assert.Equal(460_800, values);
        Assert.Equal(values, lora.CountParameters().Trainable);
        var bytes = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        Assert.Equal(values * sizeof(float), bytes.Length - 8 - headerLength);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(120, file.Entries.Count);
        Assert.InRange(bytes.Length, 1_843_200 + 8, 1_843_200 + 8 + 20_000);
    }

    [Fact]
    public void AnAdapterForADifferentBaseListsTheShapeMismatches()
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        var lora = new LoraModel(TinyLlama());
        lora.AddAdapter("default", QvConfig(), seed: 1);
        PeftAdapterFormat.Export(lora, folder.Path);

        var wider = TinyConfig();
        wider.HiddenSize = 24;
        var other = new LlamaForCausalLM(wider);
        var error = Assert.Throws<AdapterMismatchException>(() => PeftAdapterFormat.Import(other, folder.Path));
        Assert.Equal(8, error.Mismatches.Count);
        Assert.Contains("tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' has shape [4, 16] but the model needs [4, 24]", error.Message);
        Assert.DoesNotContain(other.named_parameters(), p => p.name.Contains("lora_"));
    }

    [Fact]
    public void AnAdapterWithModulesTheModelLacksListsThem()
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        var deeper = TinyConfig();
        deeper.NumHiddenLayers = 3;
        var lora = new LoraModel(new LlamaForCausalLM(deeper));
        lora.AddAdapter("default", QvConfig(), seed: 1);
        PeftAdapterFormat.Export(lora, folder.Path);

        var error = Assert.Throws<AdapterMismatchException>(() => PeftAdapterFormat.Import(TinyLlama(), folder.Path));
        Assert.Equal(4, error.Mismatches.Count);
        Assert.All(error.Mismatches, m => Assert.Contains("module 'model.layers.2.self_attn.", m));
    }

    [Fact]
    public void ATargetedModuleWithoutTensorsIsAMismatch()
    {
        using var scope = NewDisposeScope();
        var source = new LoraModel(TinyLlama());
        source.AddAdapter("default", QvConfig(), seed: 1);
        var tensors = PeftStateDict.Export(source, "default");
        tensors.Remove("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
        tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_C.weight"] = zeros(2);
        var target = new LoraModel(TinyLlama());
        var error = Assert.Throws<AdapterMismatchException>(() => PeftAdapterFormat.Load(target, "default", QvConfig(), tensors, "memory"));
        Assert.Equal(
            ["tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_C.weight' belongs to module 'model.layers.0.self_attn.q_proj.lora_C', which this model does not have or the config does not select",
             "the adapter file has no 'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight' for a module the config selects"],
            error.Mismatches);
        Assert.Empty(target.Adapters);
    }

    [Fact]
    public void ImportedConfigWithUnsupportedFeaturesIsRefused()
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        var lora = new LoraModel(TinyLlama());
        lora.AddAdapter("default", QvConfig(), seed: 1);
        PeftAdapterFormat.Export(lora, folder.Path);
        var json = File.ReadAllText(folder.File(LoraConfig.FileName)).Replace("\"r\":", "\"use_qalora\": true,\n  \"r\":", StringComparison.Ordinal);
        File.WriteAllText(folder.File(LoraConfig.FileName), json);
        var error = Assert.Throws<InvalidAdapterConfigException>(() => PeftAdapterFormat.Import(TinyLlama(), folder.Path));
        Assert.Contains("use_qalora = true", error.Message);
    }

    internal static void AssertSameTensors(string expectedFile, string actualFile)
    {
        using var expected = SafetensorsFile.Open(expectedFile);
        using var actual = SafetensorsFile.Open(actualFile);
        Assert.Equal(expected.Entries.Select(e => e.Name).Order(), actual.Entries.Select(e => e.Name).Order());
        foreach (var entry in expected.Entries)
        {
            using var e = expected.ReadTensor(entry.Name);
            using var a = actual.ReadTensor(entry.Name);
            TensorAssert.BitExact(e, a, entry.Name);
        }
    }
}
