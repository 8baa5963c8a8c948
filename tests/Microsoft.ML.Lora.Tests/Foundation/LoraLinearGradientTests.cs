using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Models.Llama;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Foundation;

public class LoraLinearGradientTests
{
    [Fact]
    public void OnlyAdapterMatricesReceiveGradients()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new LlamaForCausalLM(TinyModels.LlamaConfig(64));
        var lora = new LoraModel(model);
        lora.AddAdapter("default", new LoraConfig { Rank = 2, Alpha = 4, TargetModules = ["q_proj", "v_proj"] });
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters().Where(p => p.name.Contains(".lora_B.", StringComparison.Ordinal)))
            {
                p.normal_(0, 0.1); // non-zero B so that A receives gradient too
            }
        }
        var ids = tensor(new long[] { 1, 5, 9, 3, 7, 2 }, [2, 3]);
        model.LanguageModelLogits(model.ForwardHidden(ids)).pow(2).mean().backward();

        var withGrad = model.named_parameters().Where(p => p.parameter.grad is not null).Select(p => p.name).ToList();
        Assert.NotEmpty(withGrad);
        Assert.All(withGrad, n => Assert.Matches(@"\.self_attn\.(q|v)_proj\.lora_(A|B)\.default\.weight$", n));
        Assert.Equal(2 * 2 * 2, withGrad.Count); // 2 layers × {q,v} × {A,B}
        Assert.All(model.named_parameters().Where(p => p.name.Contains(".lora_A.", StringComparison.Ordinal)),
            p => Assert.True(p.parameter.grad!.abs().sum().item<float>() > 0, p.name));
    }

    [Fact]
    public void OutputIsBasePlusScaledLowRankUpdate()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var layer = new AdaptableLinear(5, 3, hasBias: true);
        layer.AddAdapter("default", new LoraAdapterSettings(Rank: 2, Alpha: 6));
        layer.SetActiveAdapters(["default"]);
        var a = layer.LoraA("default");
        var b = layer.LoraB("default");
        using (no_grad())
        {
            b.normal_(0, 0.5);
        }
        var x = randn(7, 5);
        // Independent formula: x·W0ᵀ + b + (α/r)·x·Aᵀ·Bᵀ, α/r = 3.
        var expected = x.matmul(layer.weight.t()) + layer.bias! + 3.0 * x.matmul(a.t()).matmul(b.t());
        Assert.True(layer.forward(x).allclose(expected, rtol: 1e-5, atol: 1e-6));
    }
}
