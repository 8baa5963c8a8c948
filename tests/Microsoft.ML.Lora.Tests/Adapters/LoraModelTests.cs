using Microsoft.ML.Lora.Adapters;
using static Microsoft.ML.Lora.Tests.Adapters.AdapterTestModels;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Adapters;

/// <summary>Named adapters on one small Llama: injection, trainability, switching, mixed batches, merging.</summary>
public class LoraModelTests
{
    [Fact]
    public void InjectionTargetsTheNamedLayersAndFreezesTheRest()
    {
        using var scope = NewDisposeScope();
        var lora = new LoraModel(TinyLlama());
        var injection = lora.AddAdapter("default", QvConfig(), seed: 1);
        Assert.Equal(
            ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"],
            injection.TargetedModules);
        Assert.Equal(["default"], lora.ActiveAdapters);
        var trainable = lora.Model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.Equal(8, trainable.Count);
        Assert.All(trainable, n => Assert.Matches(@"\.(q|v)_proj\.lora_[AB]\.default\.weight$", n));
        // q: A [4,16] + B [16,4]; v (2 KV heads × 4): A [4,16] + B [8,4] — per layer 224, two layers 448.
        var (count, total) = lora.CountParameters();
        Assert.Equal(448, count);
        Assert.Equal(lora.Model.parameters().Sum(p => p.numel()), total);
        Assert.Equal($"trainable params: 448 || all params: {total:N0} || trainable%: {100.0 * 448 / total:F4}", lora.TrainableParametersReport());
    }

    [Fact]
    public void OnlyAdapterAndSavedModuleParametersReceiveGradients()
    {
        using var scope = NewDisposeScope();
        var model = TinyLlama();
        model.AddClassificationHead(3);
        var lora = new LoraModel(model);
        var config = QvConfig();
        config.ModulesToSave = ["score"];
        lora.AddAdapter("default", config, seed: 1);
        RandomizeB(lora, "default", 2);
        model.train();
        var ids = Ids(2, 5);
        var loss = model.ClassificationLogits(ids, ones_like(ids)).pow(2).sum();
        loss.backward();
        var withGrad = model.named_parameters().Where(p => p.parameter.grad is not null && p.parameter.grad.abs().sum().item<float>() > 0).Select(p => p.name).ToList();
        Assert.Contains("score.modules_to_save.default.weight", withGrad);
        Assert.All(withGrad, n => Assert.True(n.Contains(".lora_") || n.StartsWith("score.modules_to_save.", StringComparison.Ordinal), n));
        Assert.Equal(9, withGrad.Count);
        Assert.DoesNotContain(model.named_parameters(), p => !p.parameter.requires_grad && p.parameter.grad is not null);
    }

    [Fact]
    public void MergedAndUnmergedAgreeAndUnmergeRestoresTheBase()
    {
        using var scope = NewDisposeScope();
        var lora = new LoraModel(TinyLlama());
        var config = QvConfig();
        config.TargetModules = [LoraConfig.AllLinear];
        config.UseDora = false;
        lora.AddAdapter("default", config, seed: 1);
        RandomizeB(lora, "default", 2);
        var model = (Microsoft.ML.Lora.Models.Llama.LlamaForCausalLM)lora.Model;
        var baseWeights = lora.LoraLayers().ToDictionary(l => l.Path, l => l.Layer.BaseWeight.detach().clone());
        var ids = Ids(2, 6);
        var unmerged = Logits(model, ids);
        lora.Merge();
        Assert.True(lora.IsMerged);
        Assert.True(MaxDiff(unmerged, Logits(model, ids)) <= 1e-5);
        lora.Unmerge();
        Assert.All(lora.LoraLayers(), l => Assert.True(MaxDiff(baseWeights[l.Path], l.Layer.BaseWeight) <= 1e-6, l.Path));
        Assert.True(MaxDiff(unmerged, Logits(model, ids)) <= 1e-5);
    }

    [Fact]
    public void DoraMergesAndUnmerges()
    {
        using var scope = NewDisposeScope();
        var lora = new LoraModel(TinyLlama());
        var config = QvConfig();
        config.UseDora = true;
        lora.AddAdapter("dora", config, seed: 1);
        RandomizeB(lora, "dora", 2);
        var model = (Microsoft.ML.Lora.Models.Llama.LlamaForCausalLM)lora.Model;
        var q = model.model.layers[0].self_attn.q_proj;
        var original = q.weight.detach().clone();
        var ids = Ids(2, 6);
        var unmerged = Logits(model, ids);
        lora.Merge();
        Assert.True(MaxDiff(unmerged, Logits(model, ids)) <= 1e-5);
        lora.Unmerge();
        Assert.True(MaxDiff(original, q.weight) <= 1e-6);
    }

    [Fact]
    public void SwitchingAdaptersChangesOutputsAndSwitchingBackRestoresThemExactly()
    {
        using var scope = NewDisposeScope();
        var lora = new LoraModel(TinyLlama());
        lora.AddAdapter("first", QvConfig(), seed: 1);
        lora.AddAdapter("second", QvConfig(r: 2), seed: 2);
        RandomizeB(lora, "first", 3);
        RandomizeB(lora, "second", 4);
        var model = (Microsoft.ML.Lora.Models.Llama.LlamaForCausalLM)lora.Model;
        var q = model.model.layers[0].self_attn.q_proj;
        var baseParameter = q.weight;
        var baseValues = q.weight.detach().clone();
        var ids = Ids(2, 6);

        var first = Logits(model, ids);
        lora.SetActiveAdapters("second");
        var second = Logits(model, ids);
        Assert.True(MaxDiff(first, second) > 1e-3);
        lora.SetActiveAdapters("first");
        Assert.Equal(0.0, MaxDiff(first, Logits(model, ids)));
        Assert.Same(baseParameter, q.weight);   // the base weight was never replaced or reloaded
        Assert.Equal(0.0, MaxDiff(baseValues, q.weight));

        Tensor baseline;
        using (lora.DisableAdapters())
        {
            baseline = Logits(model, ids);
        }
        Assert.Equal(0.0, MaxDiff(first, Logits(model, ids)));
        lora.SetActiveAdapters("first", "second");
        var both = Logits(model, ids);
        Assert.True(MaxDiff(both, first) > 1e-3 && MaxDiff(both, second) > 1e-3 && MaxDiff(both, baseline) > 1e-3);

        // Only the active adapters train.
        Assert.True(q.LoraA("second").requires_grad);
        lora.SetActiveAdapters("first");
        Assert.False(q.LoraA("second").requires_grad);
        lora.DeleteAdapter("second");
        Assert.False(q.HasAdapter("second"));
        Assert.Equal(0.0, MaxDiff(first, Logits(model, ids)));
    }

    [Fact]
    public void AMixedBatchEqualsRunningEachRowWithItsOwnAdapter()
    {
        using var scope = NewDisposeScope();
        var model = TinyLlama();
        model.AddClassificationHead(2);
        var lora = new LoraModel(model);
        var headConfig = QvConfig();
        headConfig.ModulesToSave = ["score"];
        lora.AddAdapter("first", headConfig, seed: 1);
        lora.AddAdapter("second", QvConfig(r: 2, alpha: 3), seed: 2);
        var dora = QvConfig();
        dora.UseDora = true;
        lora.AddAdapter("third", dora, seed: 3);
        RandomizeB(lora, "first", 3);
        RandomizeB(lora, "second", 4);
        RandomizeB(lora, "third", 5);
        using (no_grad())
        {
            model.score!.SavedCopy("first").Weight.add_(1.0);
        }
        var ids = Ids(4, 5);
        var mask = ones_like(ids);
        string[] rows = ["second", LoraLayer.BaseAdapterName, "first", "third"];

        Tensor mixed;
        using (no_grad())
        using (lora.MixedBatch(rows))
        {
            mixed = model.ClassificationLogits(ids, mask);
        }
        for (int i = 0; i < rows.Length; i++)
        {
            using var _ = no_grad();
            var row = ids[i..(i + 1)];
            Tensor single;
            if (rows[i] == LoraLayer.BaseAdapterName)
            {
                using (lora.DisableAdapters())
                {
                    single = model.ClassificationLogits(row, ones_like(row));
                }
            }
            else
            {
                lora.SetActiveAdapters(rows[i]);
                single = model.ClassificationLogits(row, ones_like(row));
            }
            Assert.True(MaxDiff(single, mixed[i..(i + 1)]) < 1e-5, $"row {i} ({rows[i]})");
        }
    }

    [Fact]
    public void SafeMergeRefusesNonFiniteWeightsAndLeavesTheModelUnmerged()
    {
        using var scope = NewDisposeScope();
        var lora = new LoraModel(TinyLlama());
        lora.AddAdapter("default", QvConfig(), seed: 1);
        var model = (Microsoft.ML.Lora.Models.Llama.LlamaForCausalLM)lora.Model;
        var weights = lora.LoraLayers().ToDictionary(l => l.Path, l => l.Layer.BaseWeight.detach().clone());
        using (no_grad())
        {
            model.model.layers[1].self_attn.v_proj.LoraB("default")[0, 0] = float.PositiveInfinity;
        }
        var error = Assert.Throws<UnsafeMergeException>(() => lora.Merge(safe: true));
        Assert.Equal("model.layers.1.self_attn.v_proj", error.ModulePath);
        Assert.False(lora.IsMerged);
        Assert.All(lora.LoraLayers(), l => Assert.Equal(0.0, MaxDiff(weights[l.Path], l.Layer.BaseWeight)));
    }

    [Fact]
    public void MergeAndUnloadReturnsThePlainModelWithTheAdapterBakedIn()
    {
        using var scope = NewDisposeScope();
        var lora = new LoraModel(TinyLlama());
        lora.AddAdapter("default", QvConfig(), seed: 1);
        RandomizeB(lora, "default", 2);
        var model = (Microsoft.ML.Lora.Models.Llama.LlamaForCausalLM)lora.Model;
        var ids = Ids(2, 6);
        var adapted = Logits(model, ids);
        var merged = MergedModel.StateDict(lora);
        Assert.DoesNotContain(merged.Keys, k => k.Contains("lora_"));
        Assert.Equal(model.state_dict().Keys.Where(k => !k.Contains("lora_")).Order(), merged.Keys.Order());

        var plain = lora.MergeAndUnload();
        Assert.Same(model, plain);
        Assert.Empty(lora.Adapters);
        Assert.DoesNotContain(plain.state_dict().Keys, k => k.Contains("lora_"));
        Assert.All(plain.parameters(), p => Assert.True(p.requires_grad));
        Assert.True(MaxDiff(adapted, Logits(model, ids)) <= 1e-5);
        Assert.All(merged, kv => Assert.True(MaxDiff(kv.Value, plain.state_dict()[kv.Key]) <= 1e-6, kv.Key));
    }

    [Fact]
    public void PissaModelStartsEqualToTheBaseModel()
    {
        using var scope = NewDisposeScope();
        var model = TinyLlama();
        var ids = Ids(2, 6);
        var before = Logits(model, ids);
        var lora = new LoraModel(model);
        var config = QvConfig();
        config.InitLoraWeights = LoraInitialization.Pissa;
        lora.AddAdapter("pissa", config);
        Assert.True(MaxDiff(before, Logits(model, ids)) < 1e-5);
        using (lora.DisableAdapters())
        {
            Assert.True(MaxDiff(before, Logits(model, ids)) > 1e-3, "the base now holds only the residual");
        }
    }

    [Fact]
    public void BiasModesChooseWhichBiasesTrain()
    {
        using var scope = NewDisposeScope();
        var config = new Microsoft.ML.Lora.Models.Llama.LlamaConfig { VocabSize = 40, HiddenSize = 16, IntermediateSize = 24, NumHiddenLayers = 1, NumAttentionHeads = 4, AttentionBias = true, MlpBias = true };
        var lora = new LoraModel(new Microsoft.ML.Lora.Models.Llama.LlamaForCausalLM(config));
        var loraOnly = QvConfig();
        loraOnly.Bias = LoraBias.LoraOnly;
        lora.AddAdapter("a", loraOnly);
        var trainableBiases = lora.Model.named_parameters().Where(p => p.parameter.requires_grad && p.name.EndsWith("bias")).Select(p => p.name).Order().ToList();
        Assert.Equal(["model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.v_proj.bias"], trainableBiases);
        var all = QvConfig();
        all.Bias = LoraBias.All;
        lora.AddAdapter("b", all);
        lora.SetActiveAdapters("b");
        Assert.Equal(7, lora.Model.named_parameters().Count(p => p.parameter.requires_grad && p.name.EndsWith("bias")));
    }

    [Fact]
    public void DoraOnEmbeddingTargetsIsRefusedBeforeTheModelChanges()
    {
        using var scope = NewDisposeScope();
        var lora = new LoraModel(TinyLlama());
        var config = new LoraConfig { TargetModules = ["embed_tokens", "q_proj"], UseDora = true };
        var error = Assert.Throws<NotSupportedException>(() => lora.AddAdapter("d", config));
        Assert.Contains("model.embed_tokens", error.Message);
        Assert.Empty(lora.Adapters);
        Assert.DoesNotContain(lora.LoraLayers(), l => l.Layer.HasAdapter("d"));
    }

    [Fact]
    public void UnknownAdapterNamesAreRefused()
    {
        var lora = new LoraModel(TinyLlama());
        lora.AddAdapter("a", QvConfig());
        Assert.Throws<ArgumentException>(() => lora.SetActiveAdapters("b"));
        Assert.Throws<ArgumentException>(() => lora.MixedBatch(["a", "b"]));
        Assert.Throws<ArgumentException>(() => lora.AddAdapter("a", QvConfig()));
        Assert.Throws<ArgumentException>(() => lora.AddAdapter("x.y", QvConfig()));
    }
}
