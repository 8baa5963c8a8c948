using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Bert;
using Microsoft.ML.Lora.Models.Gpt2;
using Microsoft.ML.Lora.Models.Llama;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>
/// Shapes of real models (from their Hugging Face config.json) for benchmarks on randomly initialised weights:
/// the speed of a step depends on the shapes only, so no download is needed.
/// </summary>
public static class ModelPresets
{
    private static readonly Dictionary<string, Func<ModelConfig>> Presets = new(StringComparer.OrdinalIgnoreCase)
    {
        // HuggingFaceTB/SmolLM2-135M
        ["smollm2-135m"] = () => new LlamaConfig
        {
            VocabSize = 49152, HiddenSize = 576, IntermediateSize = 1536, NumHiddenLayers = 30, NumAttentionHeads = 9,
            NumKeyValueHeads = 3, MaxPositionEmbeddings = 8192, RmsNormEps = 1e-5, RopeTheta = 100000,
            TieWordEmbeddings = true, BosTokenId = 0, EosTokenId = 0, InitializerRange = 0.041666666666666664,
        },
        // Qwen/Qwen2.5-0.5B (q/k/v biases come with model_type qwen2)
        ["qwen2.5-0.5b"] = () => new LlamaConfig
        {
            ModelType = "qwen2", VocabSize = 151936, HiddenSize = 896, IntermediateSize = 4864, NumHiddenLayers = 24,
            NumAttentionHeads = 14, NumKeyValueHeads = 2, MaxPositionEmbeddings = 32768, RmsNormEps = 1e-6,
            RopeTheta = 1000000, TieWordEmbeddings = true, BosTokenId = 151643, EosTokenId = 151643,
        },
        // TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T
        ["tinyllama-1.1b"] = () => new LlamaConfig
        {
            VocabSize = 32000, HiddenSize = 2048, IntermediateSize = 5632, NumHiddenLayers = 22, NumAttentionHeads = 32,
            NumKeyValueHeads = 4, MaxPositionEmbeddings = 2048, RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = false,
        },
        // karpathy/tinyllamas stories260K (llama2.c header: dim 64, hidden 172, 5 layers, 8 heads, 4 KV heads)
        ["stories260k"] = () => new LlamaConfig
        {
            VocabSize = 512, HiddenSize = 64, IntermediateSize = 172, NumHiddenLayers = 5, NumAttentionHeads = 8,
            NumKeyValueHeads = 4, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = true,
        },
        // openai-community/gpt2 (124M)
        ["gpt2"] = () => new Gpt2Config { AttnPdrop = 0, ResidPdrop = 0, EmbdPdrop = 0 },
        // google-bert/bert-base-uncased
        ["bert-base"] = () => new BertConfig
        {
            ModelType = "bert", HiddenSize = 768, NumHiddenLayers = 12, NumAttentionHeads = 12, IntermediateSize = 3072,
            HiddenAct = "gelu", TypeVocabSize = 2, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
        },
    };

    /// <summary>The preset names, sorted.</summary>
    public static IReadOnlyList<string> Names => [.. Presets.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The presets with a decoder-only (Llama-family) body, which the training benchmark supports.</summary>
    public static IReadOnlyList<string> DecoderNames => [.. Names.Where(n => Config(n) is LlamaConfig)];

    /// <summary>A fresh config of a preset; <see cref="UnknownPresetException"/> for an unknown name.</summary>
    public static ModelConfig Config(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Presets.TryGetValue(name, out var create) ? create() : throw new UnknownPresetException(name, Names);
    }

    /// <summary>A randomly initialised model of a preset's shape (float32).</summary>
    public static PretrainedModel Create(string name) => ModelRegistry.Create(Config(name));
}

/// <summary>A benchmark preset name that does not exist.</summary>
public sealed class UnknownPresetException(string name, IReadOnlyList<string> known)
    : ArgumentException($"Unknown preset '{name}'; known presets: {string.Join(", ", known)}.")
{
    /// <summary>The name asked for.</summary>
    public string Preset { get; } = name;
}
