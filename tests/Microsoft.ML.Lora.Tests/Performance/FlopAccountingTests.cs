using Microsoft.ML.Lora.Benchmarks;
using Microsoft.ML.Lora.Models.Llama;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Performance;

public class FlopAccountingTests
{
    [Fact]
    public void PerTokenFormulasByHand()
    {
        // P = 1000, L = 2, S = 10, d = 4: L·S·d = 80.
        Assert.Equal(2 * 1000 + 4 * 80, FlopAccounting.PerToken(FlopKind.Forward, 1000, 2, 10, 4));
        Assert.Equal(4 * 1000 + 12 * 80, FlopAccounting.PerToken(FlopKind.LoraTraining, 1000, 2, 10, 4));
        Assert.Equal(6 * 1000 + 12 * 80, FlopAccounting.PerToken(FlopKind.FullTraining, 1000, 2, 10, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => FlopAccounting.PerToken(FlopKind.Forward, -1, 2, 10, 4));
    }

    [Fact]
    public void MatmulParametersCountLinearsAndTheTiedHeadButNotTheClassifier()
    {
        manual_seed(1);
        using var model = new LlamaForCausalLM(TinyModels.LlamaConfig(50));   // hidden 32, intermediate 64, 2 layers, 4 heads, 2 KV heads: head 8, KV width 16
        long perLayer = 32 * 32 + 2 * (32 * 16) + 32 * 32 + 3 * (32 * 64);
        long expected = 2 * perLayer + 50 * 32;   // tied LM head: vocabulary × width
        Assert.Equal(expected, FlopAccounting.MatmulParameters(model));
        model.AddClassificationHead(3);
        Assert.Equal(expected, FlopAccounting.MatmulParameters(model));
        Assert.Equal(4.0 * expected + 12 * 2 * 256 * 32, FlopAccounting.PerToken(FlopKind.LoraTraining, model, 256));
    }

    [Fact]
    public void SmolLm2PresetHasTheRealShape()
    {
        var config = (LlamaConfig)ModelPresets.Config("smollm2-135m");
        Assert.Equal((576, 30, 9, 3, 1536, 49152, true, 100000.0),
            (config.HiddenSize, config.NumHiddenLayers, config.NumAttentionHeads, config.KeyValueHeads, config.IntermediateSize, config.VocabSize, config.TieWordEmbeddings, config.RopeTheta));
        // Matmul parameters by hand: 30 × (q, o 576² + k, v 576·192 + gate, up, down 576·1536) + tied head 49152·576.
        long perLayer = 2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536;
        Assert.Equal(134_479_872, 30 * perLayer + 49152L * 576);
        Assert.Equal(["bert-base", "gpt2", "qwen2.5-0.5b", "smollm2-135m", "stories260k", "tinyllama-1.1b"], ModelPresets.Names);
        Assert.DoesNotContain("bert-base", ModelPresets.DecoderNames);
        Assert.Throws<UnknownPresetException>(() => ModelPresets.Config("gpt5"));
    }
}
