using Microsoft.ML.Lora.Adapters;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Llama;

/// <summary>SwiGLU feed-forward: down_proj(silu(gate_proj(x)) · up_proj(x)).</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    /// <summary>Gate projection [intermediate, hidden].</summary>
    public AdaptableLinear gate_proj;
    /// <summary>Up projection [intermediate, hidden].</summary>
    public AdaptableLinear up_proj;
    /// <summary>Down projection [hidden, intermediate].</summary>
    public AdaptableLinear down_proj;

    /// <summary>Creates the block for a config.</summary>
    public LlamaMlp(LlamaConfig config) : base(nameof(LlamaMlp))
    {
        gate_proj = new AdaptableLinear(config.HiddenSize, config.IntermediateSize, config.MlpBias);
        up_proj = new AdaptableLinear(config.HiddenSize, config.IntermediateSize, config.MlpBias);
        down_proj = new AdaptableLinear(config.IntermediateSize, config.HiddenSize, config.MlpBias);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var hidden = nn.functional.silu(gate_proj.forward(x)).mul_(up_proj.forward(x));
        return down_proj.forward(hidden).MoveToOuterDisposeScope();
    }
}
