using BenchmarkDotNet.Attributes;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks.Micro;

/// <summary>
/// The pieces of a rank-8 LoRA path over 1024 × 576 activations (576 → 1536), one by one, without autograd:
/// where the adapter's cost goes (dtype conversions, thin products, the adds).
/// </summary>
public class LoraPathBenchmark : TensorBenchmark
{
    private Tensor _x = null!, _x32 = null!, _a = null!, _b = null!, _h = null!, _out32 = null!, _y = null!, _gradOut32 = null!;

    /// <inheritdoc />
    protected override void Setup()
    {
        _x = randn([Tokens, Width]).to(Dtype);
        _x32 = _x.to(ScalarType.Float32);
        _a = randn([8, Width]);
        _b = randn([1536, 8]);
        _h = randn([Tokens, 8]);
        _out32 = randn([Tokens, 1536]);
        _y = randn([Tokens, 1536]).to(Dtype);
        _gradOut32 = randn([Tokens, 1536]);
    }

    /// <inheritdoc />
    public override void Cleanup()
    {
        foreach (var t in new[] { _x, _x32, _a, _b, _h, _out32, _y, _gradOut32 })
        {
            t.Dispose();
        }
    }

    /// <summary>Input to the adapter's dtype (a copy even in fp32, to compare).</summary>
    [Benchmark]
    public void ConvertInput() => Scoped(() => _x.to(ScalarType.Float32, copy: true));

    /// <summary>h = x·Aᵀ.</summary>
    [Benchmark]
    public void ProjectDown() => Scoped(() => nn.functional.linear(_x32, _a));

    /// <summary>out = h·Bᵀ.</summary>
    [Benchmark]
    public void ProjectUp() => Scoped(() => nn.functional.linear(_h, _b));

    /// <summary>The adapter output back to the base dtype and added with the scale.</summary>
    [Benchmark]
    public void ConvertAndAdd() => Scoped(() => _y.add_(_out32.to(_y.dtype), 2.0));

    /// <summary>∂A = (∂h)ᵀ·x.</summary>
    [Benchmark]
    public void GradientOfA() => Scoped(() => _h.t().mm(_x32));

    /// <summary>∂h = ∂out·B.</summary>
    [Benchmark]
    public void GradientOfH() => Scoped(() => _gradOut32.mm(_b));

    /// <summary>∂x = ∂h·A.</summary>
    [Benchmark]
    public void GradientOfInput() => Scoped(() => _h.mm(_a));
}
