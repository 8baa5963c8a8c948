using Microsoft.ML.Lora.Adapters;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Llama;

/// <summary>The decoder body (HF LlamaModel): embed_tokens, layers, final norm.</summary>
public sealed class LlamaModel : nn.Module
{
    /// <summary>Token embedding [vocab, hidden] (adaptable, so LoRA can target embed_tokens).</summary>
    public AdaptableEmbedding embed_tokens;
    /// <summary>Decoder blocks.</summary>
    public ModuleList<LlamaDecoderLayer> layers;
    /// <summary>Final norm.</summary>
    public RmsNorm norm;

    private readonly LlamaConfig _config;
    private readonly RotaryEmbedding _rotary;

    /// <summary>Creates the body for a config.</summary>
    public LlamaModel(LlamaConfig config) : base(nameof(LlamaModel))
    {
        _config = config;
        embed_tokens = new AdaptableEmbedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new LlamaDecoderLayer(config)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        _rotary = new RotaryEmbedding(config);
        RegisterComponents();
    }

    /// <summary>Recompute decoder layers in the backward pass (set through <see cref="PretrainedModel.GradientCheckpointing"/>).</summary>
    internal bool CheckpointLayers { get; set; }

    /// <summary>Hidden states after the final norm (see <see cref="PretrainedModel.ForwardHidden"/>).</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1];
        long past = cache?.Length ?? 0;
        var x = embed_tokens.forward(inputIds);
        var positions = AttentionMask.PositionIds(attentionMask, b, t, inputIds.device, past);
        var (cos, sin) = _rotary.CosSin(positions, x.dtype);
        var mask = AttentionMask.ForDecoder(attentionMask, b, t, past, x.dtype, inputIds.device, _config.AttentionWindow);
        bool checkpoint = CheckpointLayers && training && cache is null && is_grad_enabled();
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            x = checkpoint
                ? ActivationCheckpoint.Run((h, c, s, m) => layer.Forward(h, c, s, m), x, cos, sin, mask)
                : layer.Forward(x, cos, sin, mask, cache?.Layers[i]);
        }
        return norm.forward(x).MoveToOuterDisposeScope();
    }
}
