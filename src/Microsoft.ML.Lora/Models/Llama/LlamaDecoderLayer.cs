using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Llama;

/// <summary>Pre-norm decoder block: x + attn(norm(x)), then + mlp(norm(·)).</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    /// <summary>Norm before attention.</summary>
    public RmsNorm input_layernorm;
    /// <summary>Self-attention.</summary>
    public LlamaAttention self_attn;
    /// <summary>Norm before the MLP.</summary>
    public RmsNorm post_attention_layernorm;
    /// <summary>Feed-forward block.</summary>
    public LlamaMlp mlp;

    /// <summary>Creates a block for a config.</summary>
    public LlamaDecoderLayer(LlamaConfig config) : base(nameof(LlamaDecoderLayer))
    {
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        self_attn = new LlamaAttention(config);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        mlp = new LlamaMlp(config);
        RegisterComponents();
    }

    /// <summary>Runs the block (see <see cref="LlamaAttention.Forward"/> for the arguments).</summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, LayerKvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache);
        return (h + mlp.forward(post_attention_layernorm.forward(h))).MoveToOuterDisposeScope();
    }
}
