using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Gpt2;
using Microsoft.ML.Lora.Models.Llama;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>Whether a config ties the output head to the token embedding (HF then stores the matrix once).</summary>
internal static class TiedEmbeddings
{
    /// <summary>True when <c>tie_word_embeddings</c> is set for an architecture that has the option.</summary>
    public static bool In(ModelConfig config) => config switch
    {
        LlamaConfig llama => llama.TieWordEmbeddings,
        Gpt2Config gpt2 => gpt2.TieWordEmbeddings,
        _ => false,
    };
}
