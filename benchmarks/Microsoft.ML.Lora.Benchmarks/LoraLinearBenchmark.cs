using BenchmarkDotNet.Attributes;
using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks.Micro;

/// <summary>
/// One adaptable linear layer (576 → 1536, SmolLM2's gate_proj) forward and forward+backward: the bare frozen base,
/// and with a rank-8 LoRA adapter (fp32 adapter over an fp32 or bf16 base), input requiring a gradient as inside a model.
/// </summary>
public class LoraLinearBenchmark : TensorBenchmark
{
    private AdaptableLinear _plain = null!, _adapted = null!;
    private Tensor _x = null!, _gradOutput = null!;

    /// <inheritdoc />
    protected override void Setup()
    {
        _plain = Frozen(null);
        _adapted = Frozen(new LoraAdapterSettings(8, 16, 0, false, false));
        _x = randn([Tokens, Width]).to(Dtype).requires_grad_(true);
        _gradOutput = randn([Tokens, 1536]).to(Dtype);
    }

    private AdaptableLinear Frozen(LoraAdapterSettings? settings)
    {
        var layer = new AdaptableLinear(Width, 1536, hasBias: false);
        layer.weight.requires_grad_(false);
        if (settings is not null)
        {
            layer.AddAdapter("bench", settings, LoraInitialization.Random);
            layer.SetActiveAdapters(["bench"]);
        }
        layer.CastBaseWeights(Dtype);
        return layer;
    }

    /// <inheritdoc />
    public override void Cleanup()
    {
        _plain.Dispose();
        _adapted.Dispose();
        _x.Dispose();
        _gradOutput.Dispose();
    }

    /// <summary>Base layer forward.</summary>
    [Benchmark(Baseline = true)]
    public void BaseForward() => Scoped(() =>
    {
        using var _ = no_grad();
        _plain.forward(_x);
    });

    /// <summary>Base + LoRA forward.</summary>
    [Benchmark]
    public void LoraForward() => Scoped(() =>
    {
        using var _ = no_grad();
        _adapted.forward(_x);
    });

    /// <summary>Base forward and backward (input gradient only: the weight is frozen).</summary>
    [Benchmark]
    public void BaseForwardBackward() => Scoped(() =>
    {
        _plain.forward(_x).backward([_gradOutput]);
        _x.grad?.zero_();
    });

    /// <summary>Base + LoRA forward and backward (input and adapter gradients).</summary>
    [Benchmark]
    public void LoraForwardBackward() => Scoped(() =>
    {
        _adapted.forward(_x).backward([_gradOutput]);
        _x.grad?.zero_();
        foreach (var p in _adapted.parameters().Where(p => p.requires_grad))
        {
            using var g = p.grad;
            g?.zero_();
        }
    });
}
