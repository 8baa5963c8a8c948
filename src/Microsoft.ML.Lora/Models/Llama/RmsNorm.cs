using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Llama;

/// <summary>RMSNorm computed in fp32 (as HF's LlamaRMSNorm), then cast back: weight · x/√(mean(x²)+ε).</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    /// <summary>Per-channel gain.</summary>
    public Parameter weight;
    private readonly double _eps;

    /// <summary>Creates the norm with unit gain.</summary>
    public RmsNorm(long width, double eps) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(width));
        _eps = eps;
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inputType = x.dtype;
        var x32 = x.to(ScalarType.Float32);
        var normed = x32 * (x32.pow(2).mean([-1], keepdim: true) + _eps).rsqrt();
        return (weight * normed.to(inputType)).MoveToOuterDisposeScope();
    }
}
