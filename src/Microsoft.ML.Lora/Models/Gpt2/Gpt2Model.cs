using Microsoft.ML.Lora.Adapters;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Gpt2;

/// <summary>HF GPT2Model: token (<c>wte</c>) plus learned position (<c>wpe</c>) embeddings, blocks <c>h</c>, final <c>ln_f</c>.</summary>
public sealed class Gpt2Model : nn.Module
{
    /// <summary>Token embedding [vocab, n_embd].</summary>
    public AdaptableEmbedding wte;
    /// <summary>Learned position embedding [n_positions, n_embd].</summary>
    public AdaptableEmbedding wpe;
    /// <summary>Transformer blocks.</summary>
    public ModuleList<Gpt2Block> h;
    /// <summary>Final norm.</summary>
    public LayerNorm ln_f;

    private readonly double _embeddingDropout;

    /// <summary>Creates the body for a config.</summary>
    public Gpt2Model(Gpt2Config config) : base(nameof(Gpt2Model))
    {
        wte = new AdaptableEmbedding(config.VocabSize, config.NEmbd);
        wpe = new AdaptableEmbedding(config.NPositions, config.NEmbd);
        h = new ModuleList<Gpt2Block>(Enumerable.Range(0, config.NLayer).Select(i => new Gpt2Block(config, i)).ToArray());
        ln_f = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        _embeddingDropout = config.EmbdPdrop;
        RegisterComponents();
    }

    /// <summary>
    /// Hidden states after <c>ln_f</c>. Positions count real tokens (as HF's generate derives them from the
    /// attention mask), so left padding leaves the real tokens' positions, and states, unchanged.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1];
        long past = cache?.Length ?? 0;
        var positions = AttentionMask.PositionIds(attentionMask, b, t, inputIds.device, past);
        var x = nn.functional.dropout(wte.forward(inputIds) + wpe.forward(positions), _embeddingDropout, training);
        var mask = AttentionMask.ForDecoder(attentionMask, b, t, past, x.dtype, inputIds.device);
        for (int i = 0; i < h.Count; i++)
        {
            x = h[i].Forward(x, mask, cache?.Layers[i]);
        }
        return ln_f.forward(x).MoveToOuterDisposeScope();
    }
}
