using System.Globalization;

namespace Microsoft.ML.Lora.Analysis;

/// <summary>
/// One adapted module's LoRA factors in float64: ΔW = <see cref="Scale"/>·B·A, [out, in] as in torch's
/// nn.Linear, whatever the base stores (PEFT keeps A [r, in] and B [out, r] for GPT-2's Conv1D too).
/// </summary>
/// <param name="Module">The module's path as in the checkpoint, e.g. <c>model.layers.0.self_attn.q_proj</c>.</param>
/// <param name="A">lora_A [r, in] (for an embedding: lora_embedding_A [r, vocab]).</param>
/// <param name="B">lora_B [out, r] (for an embedding: lora_embedding_B [dim, r]).</param>
/// <param name="Scale">α/r, or α/√r with rsLoRA.</param>
/// <param name="FanInFanOut">The adapter's config says the base stores this weight [in, out] (GPT-2 Conv1D).</param>
/// <param name="IsEmbedding">An embedding adapter: the base stores [vocab, dim], the transpose of B·A.</param>
public sealed record LoraModuleFactors(string Module, DenseMatrix A, DenseMatrix B, double Scale, bool FanInFanOut, bool IsEmbedding)
{
    /// <summary>The rank r.</summary>
    public int Rank => A.Rows;

    /// <summary>Columns of ΔW (input features; the vocabulary for an embedding).</summary>
    public int InFeatures => A.Columns;

    /// <summary>Rows of ΔW (output features; the embedding width for an embedding).</summary>
    public int OutFeatures => B.Rows;

    /// <summary>The layer index in the module path, or null for a module outside the layer stack.</summary>
    public int? Layer => ModuleNames.LayerOf(Module);

    /// <summary>The module's role within a layer (see <see cref="ModuleNames.TypeOf"/>).</summary>
    public string ModuleType => ModuleNames.TypeOf(Module);
}

/// <summary>Reads the layer index and the module type from a module path.</summary>
public static class ModuleNames
{
    /// <summary>
    /// The first all-digit segment of the path: 3 in <c>model.layers.3.self_attn.q_proj</c> and in
    /// <c>transformer.h.3.attn.c_attn</c>; null when there is none (an embedding, a head).
    /// </summary>
    public static int? LayerOf(string module)
    {
        foreach (var segment in module.Split('.'))
        {
            if (segment.Length > 0 && segment.All(char.IsAsciiDigit) && int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out int layer))
            {
                return layer;
            }
        }
        return null;
    }

    /// <summary>
    /// The part of the path after the layer index — <c>self_attn.q_proj</c>, <c>attn.c_attn</c>, <c>mlp.c_proj</c> —
    /// which names one role in every layer (GPT-2 has a <c>c_proj</c> in both attention and MLP); the whole path
    /// for a module outside the layer stack.
    /// </summary>
    public static string TypeOf(string module)
    {
        var segments = module.Split('.');
        for (int i = 0; i < segments.Length - 1; i++)
        {
            if (segments[i].Length > 0 && segments[i].All(char.IsAsciiDigit))
            {
                return string.Join('.', segments[(i + 1)..]);
            }
        }
        return module;
    }

    /// <summary>Orders module paths by layer number (2 before 10), then by path.</summary>
    public static IComparer<string> Order { get; } = Comparer<string>.Create((x, y) =>
    {
        int byLayer = Nullable.Compare(LayerOf(x), LayerOf(y));
        return byLayer != 0 ? byLayer : string.CompareOrdinal(x, y);
    });
}
