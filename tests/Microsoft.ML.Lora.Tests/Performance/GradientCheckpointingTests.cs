using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Models.Llama;
using Microsoft.ML.Lora.Models.Gpt2;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Performance;

public class GradientCheckpointingTests
{
    private static readonly long[] Ids = [5, 9, 3, 7, 2, 11, 4, 8, 1, 6, 12, 10];

    /// <summary>Gradients (by parameter name) and loss of one LM forward/backward, with or without checkpointing.</summary>
    private static (Dictionary<string, Tensor> Grads, float Loss) Gradients(bool checkpointing, bool lora, double dropout)
    {
        manual_seed(7);
        using var model = new LlamaForCausalLM(TinyModels.LlamaConfig(32));
        if (lora)
        {
            var adapters = new LoraModel(model);
            adapters.AddAdapter("default", new LoraConfig { Rank = 4, Alpha = 8, Dropout = dropout, TargetModules = [LoraConfig.AllLinear] }, seed: 3);
            using (no_grad())
            {
                foreach (var (_, p) in model.named_parameters().Where(p => p.name.Contains(".lora_B.", StringComparison.Ordinal)))
                {
                    p.normal_(0, 0.2);   // B = 0 would leave A without gradient
                }
            }
        }
        model.train();
        model.GradientCheckpointing = checkpointing;
        manual_seed(11);   // the dropout masks' source
        using var scope = NewDisposeScope();
        var ids = tensor(Ids, [2, 6]);
        var logits = model.LanguageModelLogits(model.ForwardHidden(ids));
        var loss = nn.functional.cross_entropy(logits[.., ..^1].reshape(-1, 32), ids[.., 1..].reshape(-1));
        loss.backward();
        var grads = model.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone().DetachFromDisposeScope());
        return (grads, loss.item<float>());
    }

    [Theory]
    [InlineData(true, 0.0)]
    [InlineData(true, 0.3)]
    [InlineData(false, 0.0)]
    public void CheckpointedGradientsEqualPlainOnes(bool lora, double dropout)
    {
        var (plain, plainLoss) = Gradients(checkpointing: false, lora, dropout);
        var (checkpointed, checkpointedLoss) = Gradients(checkpointing: true, lora, dropout);
        Assert.Equal(plainLoss, checkpointedLoss, 6);
        Assert.Equal(plain.Keys.Order(), checkpointed.Keys.Order());
        Assert.NotEmpty(plain);
        if (lora)
        {
            // Every layer's adapters get gradients, including layer 0 whose input does not require one.
            Assert.Contains("model.layers.0.self_attn.q_proj.lora_A.default.weight", plain.Keys);
            Assert.All(plain.Keys, k => Assert.Contains(".lora_", k));
        }
        foreach (var (name, grad) in plain)
        {
            Assert.True(grad.allclose(checkpointed[name], rtol: 1e-5, atol: 1e-7), $"{name} differs");
        }
    }

    [Fact]
    public void InactiveOutsideTrainingAndUnsupportedArchitecturesSayWhy()
    {
        manual_seed(1);
        using var model = new LlamaForCausalLM(TinyModels.LlamaConfig(32));
        model.GradientCheckpointing = true;
        model.eval();
        using var scope = NewDisposeScope();
        var ids = tensor(Ids, [2, 6]);
        var checkpointedEval = model.ForwardHidden(ids);
        model.GradientCheckpointing = false;
        Assert.True(checkpointedEval.eq(model.ForwardHidden(ids)).all().item<bool>());

        using var gpt2 = new Gpt2LMHeadModel(new Gpt2Config { NEmbd = 16, NLayer = 1, NHead = 2, VocabSize = 32, NPositions = 16 });
        Assert.False(gpt2.SupportsGradientCheckpointing);
        Assert.Throws<NotSupportedException>(() => gpt2.GradientCheckpointing = true);
    }
}
