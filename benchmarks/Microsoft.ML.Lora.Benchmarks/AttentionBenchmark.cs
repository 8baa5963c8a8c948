using BenchmarkDotNet.Attributes;
using Microsoft.ML.Lora.Models.Llama;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks.Micro;

/// <summary>
/// SmolLM2's self-attention block (9 heads, 3 KV heads, head_dim 64, rotary, scaled_dot_product_attention) on
/// 4 × 256 tokens: forward, and forward+backward with frozen projections.
/// </summary>
public class AttentionBenchmark : TensorBenchmark
{
    private LlamaAttention _attention = null!;
    private RotaryEmbedding _rotary = null!;
    private Tensor _x = null!, _cos = null!, _sin = null!, _gradOutput = null!;

    /// <inheritdoc />
    protected override void Setup()
    {
        var config = (LlamaConfig)ModelPresets.Config("smollm2-135m");
        _attention = new LlamaAttention(config);
        foreach (var p in _attention.parameters())
        {
            p.requires_grad_(false);
        }
        foreach (var (_, layer) in _attention.named_children())
        {
            ((Adapters.AdaptableLinear)layer).CastBaseWeights(Dtype);
        }
        _rotary = new RotaryEmbedding(config);
        var positions = arange(256).unsqueeze(0).expand(4, 256);
        (_cos, _sin) = _rotary.CosSin(positions, Dtype);
        _x = randn([4, 256, Width]).to(Dtype).requires_grad_(true);
        _gradOutput = randn([4, 256, Width]).to(Dtype);
    }

    /// <inheritdoc />
    public override void Cleanup()
    {
        _attention.Dispose();
        foreach (var t in new[] { _x, _cos, _sin, _gradOutput })
        {
            t.Dispose();
        }
    }

    /// <summary>Forward only.</summary>
    [Benchmark(Baseline = true)]
    public void Forward() => Scoped(() =>
    {
        using var _ = no_grad();
        _attention.Forward(_x, _cos, _sin, null);
    });

    /// <summary>Forward and backward to the input.</summary>
    [Benchmark]
    public void ForwardBackward() => Scoped(() =>
    {
        _attention.Forward(_x, _cos, _sin, null).backward([_gradOutput]);
        _x.grad?.zero_();
    });
}
