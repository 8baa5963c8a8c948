using Microsoft.ML.Lora.Adapters;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Gpt2;

/// <summary>HF GPT2MLP: c_proj(act(c_fc(x))) with Conv1D layers ([in, out] weights) and gelu_new.</summary>
public sealed class Gpt2Mlp : nn.Module<Tensor, Tensor>
{
    /// <summary>Expansion, Conv1D [n_embd, n_inner].</summary>
    public AdaptableLinear c_fc;
    /// <summary>Projection back, Conv1D [n_inner, n_embd].</summary>
    public AdaptableLinear c_proj;

    private readonly string _activation;
    private readonly double _dropout;

    /// <summary>Creates the MLP for a config.</summary>
    public Gpt2Mlp(Gpt2Config config) : base(nameof(Gpt2Mlp))
    {
        _activation = config.ActivationFunction;
        _dropout = config.ResidPdrop;
        c_fc = new AdaptableLinear(config.NEmbd, config.InnerSize, hasBias: true, fanInFanOut: true);
        c_proj = new AdaptableLinear(config.InnerSize, config.NEmbd, hasBias: true, fanInFanOut: true);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var output = c_proj.forward(Activations.Apply(_activation, c_fc.forward(x)));
        return nn.functional.dropout(output, _dropout, training).MoveToOuterDisposeScope();
    }
}

/// <summary>HF GPT2Block (pre-LN): x + attn(ln_1(x)), then + mlp(ln_2(·)).</summary>
public sealed class Gpt2Block : nn.Module
{
    /// <summary>Norm before attention.</summary>
    public LayerNorm ln_1;
    /// <summary>Self-attention.</summary>
    public Gpt2Attention attn;
    /// <summary>Norm before the MLP.</summary>
    public LayerNorm ln_2;
    /// <summary>Feed-forward block.</summary>
    public Gpt2Mlp mlp;

    /// <summary>Creates block <paramref name="layerIndex"/> for a config.</summary>
    public Gpt2Block(Gpt2Config config, int layerIndex) : base(nameof(Gpt2Block))
    {
        ln_1 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        attn = new Gpt2Attention(config, layerIndex);
        ln_2 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        mlp = new Gpt2Mlp(config);
        RegisterComponents();
    }

    /// <summary>Runs the block (see <see cref="Gpt2Attention.Forward"/> for the arguments).</summary>
    public Tensor Forward(Tensor x, Tensor? mask, LayerKvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var h = x + attn.Forward(ln_1.forward(x), mask, cache);
        return (h + mlp.forward(ln_2.forward(h))).MoveToOuterDisposeScope();
    }
}
