using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Models.Llama;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Performance;

public class MixedPrecisionTests
{
    [Fact]
    public void FrozenBaseGoesToBf16WhileAdaptersAndHeadStayFp32()
    {
        manual_seed(2);
        using var model = new LlamaForCausalLM(TinyModels.LlamaConfig(64));
        model.AddClassificationHead(2);
        var lora = new LoraModel(model);
        lora.AddAdapter("a", new LoraConfig { Rank = 4, Alpha = 8, TargetModules = [LoraConfig.AllLinear], ModulesToSave = ["score"] }, seed: 1);
        long frozenBefore = MixedPrecision.FrozenWeightBytes(model);
        long trainable = MixedPrecision.TrainableParameters(model);

        long frozenAfter = MixedPrecision.CastFrozenWeights(model, ScalarType.BFloat16);

        var dtypes = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.dtype);
        Assert.Equal(ScalarType.BFloat16, dtypes["model.layers.0.self_attn.q_proj.weight"]);
        Assert.Equal(ScalarType.BFloat16, dtypes["model.embed_tokens.weight"]);
        Assert.Equal(ScalarType.BFloat16, dtypes["model.layers.1.input_layernorm.weight"]);
        Assert.Equal(ScalarType.Float32, dtypes["model.layers.0.self_attn.q_proj.lora_A.a.weight"]);
        Assert.Equal(ScalarType.Float32, dtypes["model.layers.0.mlp.down_proj.lora_B.a.weight"]);
        Assert.Equal(ScalarType.Float32, dtypes["score.weight"]);
        Assert.Equal(ScalarType.Float32, dtypes["score.modules_to_save.a.weight"]);
        Assert.Equal(trainable, MixedPrecision.TrainableParameters(model));
        Assert.True(model.named_parameters().Where(p => p.parameter.requires_grad).All(p => p.parameter.dtype == ScalarType.Float32));
        // The frozen fp32 score base copy stays fp32; everything else frozen halves.
        long scoreBase = 2 * 32 * 4;
        Assert.Equal((frozenBefore - scoreBase) / 2 + scoreBase, frozenAfter);

        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var logits = model.ClassificationLogits(ids, ones_like(ids));
        Assert.Equal(ScalarType.Float32, logits.dtype);
        Assert.True(logits.isfinite().all().item<bool>());
    }

    /// <summary>Losses of a few causal-LM training steps on fixed rows, with frozen weights in <paramref name="dtype"/>.</summary>
    private static double[] Losses(ScalarType dtype)
    {
        manual_seed(5);
        using var model = new LlamaForCausalLM(TinyModels.LlamaConfig(64));
        new LoraModel(model).AddAdapter("a", new LoraConfig { Rank = 8, Alpha = 16, TargetModules = [LoraConfig.AllLinear] }, seed: 2);
        if (dtype != ScalarType.Float32)
        {
            MixedPrecision.CastFrozenWeights(model, dtype);
        }
        var random = new Random(3);
        // A learnable pattern: each row counts up from a random start.
        var rows = Enumerable.Range(0, 32).Select(_ => random.Next(40)).Select(s => new TokenizedExample([.. Enumerable.Range(s, 16)])).ToList();
        var losses = new List<double>();
        var loop = new FineTuningLoop(model, new CausalLanguageModelObjective(), new FineTuningSettings
        {
            Epochs = 4, BatchSize = 8, LearningRate = 1e-2, LengthBucketing = false, Seed = 1, Schedule = LearningRateScheduleKind.Constant,
        }, padId: 0, CPU)
        {
            Progress = p => losses.Add(p.Loss),
        };
        loop.Run(rows, null);
        return [.. losses];
    }

    [Fact]
    public void Bf16TrainingLossTracksFp32()
    {
        var fp32 = Losses(ScalarType.Float32);
        var bf16 = Losses(ScalarType.BFloat16);
        Assert.Equal(16, fp32.Length);
        Assert.True(fp32[^1] < fp32[0] - 0.3, $"fp32 did not learn: {fp32[0]:F3} → {fp32[^1]:F3}");
        for (int i = 0; i < fp32.Length; i++)
        {
            Assert.True(Math.Abs(fp32[i] - bf16[i]) < 0.05 * fp32[i], $"step {i}: fp32 {fp32[i]:F4}, bf16 {bf16[i]:F4}");
        }
    }

    [Fact]
    public void RejectsNonFloatingDtype()
    {
        manual_seed(1);
        using var model = new LlamaForCausalLM(TinyModels.LlamaConfig(16));
        Assert.Throws<ArgumentException>(() => MixedPrecision.CastFrozenWeights(model, ScalarType.Int32));
    }
}
