using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Bert;
using Microsoft.ML.Lora.Models.Gpt2;
using Microsoft.ML.Lora.Models.Llama;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>Small random models of every architecture, built through the registry and put in eval mode.</summary>
internal static class TinyModels
{
    /// <summary>The architectures with a causal LM head (xunit theory data).</summary>
    public static TheoryData<string> DecoderKinds => new() { "llama", "qwen2", "mistral", "gpt2" };

    /// <summary>The encoder architectures (xunit theory data).</summary>
    public static TheoryData<string> EncoderKinds => new() { "bert", "roberta", "distilbert" };

    /// <summary>Llama-family config: GQA (4 query heads, 2 kv heads), untied head unless told.</summary>
    public static LlamaConfig Llama(string modelType = "llama", bool tie = false, int? slidingWindow = null, RopeScaling? scaling = null) => new()
    {
        ModelType = modelType,
        VocabSize = 61,
        HiddenSize = 16,
        IntermediateSize = 24,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        MaxPositionEmbeddings = 32,
        RmsNormEps = 1e-5,
        TieWordEmbeddings = tie,
        SlidingWindow = slidingWindow,
        RopeScaling = scaling,
        BosTokenId = 1,
        EosTokenId = 2,
    };

    /// <summary>GPT-2 config (n_embd 16, 4 heads, 2 layers, 32 positions).</summary>
    public static Gpt2Config Gpt2() => new() { VocabSize = 61, NEmbd = 16, NHead = 4, NLayer = 2, NPositions = 32, BosTokenId = 2, EosTokenId = 2 };

    /// <summary>BERT-family config of the given model type.</summary>
    public static BertConfig Bert(string modelType) => modelType == "distilbert"
        ? new BertConfig { ModelType = modelType, VocabSize = 61, Dim = 16, NLayers = 2, NHeads = 4, HiddenDim = 24, MaxPositionEmbeddings = 32 }
        : new BertConfig
        {
            ModelType = modelType, VocabSize = 61, HiddenSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 4, IntermediateSize = 24,
            MaxPositionEmbeddings = 32, TypeVocabSize = modelType == "roberta" ? 1 : 2, PadTokenId = modelType == "roberta" ? 1 : 0,
            LayerNormEps = modelType == "roberta" ? 1e-5 : 1e-12,
        };

    /// <summary>The config for a model type name.</summary>
    public static ModelConfig ConfigFor(string modelType) => modelType switch
    {
        "gpt2" => Gpt2(),
        "bert" or "roberta" or "distilbert" => Bert(modelType),
        _ => Llama(modelType, slidingWindow: modelType == "mistral" ? 5 : null),
    };

    /// <summary>
    /// A model through the registry, its weights redrawn U(−0.5, 0.5) (norm gains 1 ± 0.5) so activations are
    /// far from zero and a wrong convention changes the output visibly; eval mode.
    /// </summary>
    public static PretrainedModel Create(ModelConfig config, int seed = 7)
    {
        manual_seed(seed);
        var model = ModelRegistry.Create(config);
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                bool isNormGain = name.EndsWith("norm.weight", StringComparison.Ordinal) || name.Contains("LayerNorm.weight", StringComparison.Ordinal)
                    || name.Contains("ln_", StringComparison.Ordinal) && name.EndsWith("weight", StringComparison.Ordinal);
                p.uniform_(-0.5, 0.5);
                if (isNormGain)
                {
                    p.add_(1.0);
                }
            }
        }
        model.eval();
        return model;
    }

    /// <summary>A [1, n] Int64 tensor.</summary>
    public static Tensor Ids(params long[] ids) => tensor(ids, [1, ids.Length]);

    /// <summary>Logits for ids [B, T] with an optional mask.</summary>
    public static Tensor Logits(PretrainedModel model, Tensor ids, Tensor? mask = null)
    {
        using var _ = no_grad();
        return model.LanguageModelLogits(model.ForwardHidden(ids, mask));
    }
}
