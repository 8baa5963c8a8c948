using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Generation;
using Microsoft.ML.Lora.Models.Gpt2;
using static Microsoft.ML.Lora.Tests.Models.ReferenceMath;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>HF's tiny-random-gpt2 checkpoint (real file layout, random weights) through our GPT-2.</summary>
public class TinyRandomGpt2Tests
{
    private static readonly long[] Tokens = [98, 15, 311, 999, 0, 47, 512, 7];

    private static Gpt2LMHeadModel Load() => (Gpt2LMHeadModel)PretrainedModelLoader.Load(SharedData.PathOf("models/tiny-random-gpt2"));

    [Fact]
    public void LoadedCheckpointMatchesTheReferenceForward()
    {
        using var model = Load();
        Assert.Equal(32, model.Gpt2Config.NEmbd);
        using var scope = NewDisposeScope();
        var logits = TinyModels.Logits(model, TinyModels.Ids(Tokens));
        Assert.Equal(new long[] { 1, Tokens.Length, 1000 }, logits.shape);
        var expected = Gpt2ReferenceTests.Reference(model.Gpt2Config, Weights(model), Tokens);
        Assert.InRange(MaxAbsDiff(logits, expected), 0, 1e-5);
    }

    [Fact]
    public void CachedDecodingEqualsFullForwardAndGenerates()
    {
        using var model = Load();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var full = TinyModels.Logits(model, TinyModels.Ids(Tokens));
        using var cache = model.CreateKvCache();
        var prompt = model.LanguageModelLogits(model.ForwardHiddenCached(TinyModels.Ids(Tokens[..5]), null, cache));
        var steps = Enumerable.Range(5, 3).Select(t => model.LanguageModelLogits(model.ForwardHiddenCached(TinyModels.Ids(Tokens[t]), null, cache)));
        Assert.InRange(MaxAbsDiff(cat([prompt, .. steps], 1), full), 0, 1e-5);

        var result = new TextGenerator(model).Generate([98, 15, 311], new GenerationOptions { MaxNewTokens = 20 });
        Assert.InRange(result.TokenIds.Count, 1, 20);
        Assert.All(result.TokenIds, t => Assert.InRange(t, 0, 999));
        var uncached = new TextGenerator(model).Generate([98, 15, 311], new GenerationOptions { MaxNewTokens = 20, UseKvCache = false });
        Assert.Equal(result.TokenIds, uncached.TokenIds);
    }
}
