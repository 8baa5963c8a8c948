using Microsoft.ML.Lora.Adapters;
using static Microsoft.ML.Lora.Tests.Models.ReferenceMath;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>Every model hosts PEFT-style adapters on its HF-named linear and embedding layers.</summary>
public class LoraHostingTests
{
    [Theory]
    [InlineData("llama", "embed_tokens", "model.embed_tokens")]
    [InlineData("qwen2", "embed_tokens", "model.embed_tokens")]
    [InlineData("gpt2", "wte", "transformer.wte")]
    [InlineData("bert", "word_embeddings", "bert.embeddings.word_embeddings")]
    [InlineData("roberta", "word_embeddings", "roberta.embeddings.word_embeddings")]
    [InlineData("distilbert", "word_embeddings", "distilbert.embeddings.word_embeddings")]
    public void TokenEmbeddingAndAllLinearLayersAcceptAdaptersWithoutChangingTheOutput(string kind, string embeddingName, string embeddingPath)
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
        using var scope = NewDisposeScope();
        var ids = TinyModels.Ids(4, 19, 33, 7);
        var before = model.ForwardHidden(ids).detach().clone();
        var lora = new LoraModel(model);
        var injection = lora.AddAdapter("a", new LoraConfig { TargetModules = [embeddingName], Rank = 2 }, seed: 3);
        Assert.Equal([embeddingPath], injection.TargetedModules);
        var everyLinear = lora.AddAdapter("b", new LoraConfig { TargetModules = [LoraConfig.AllLinear], Rank = 2 }, seed: 4);
        var expected = model.AdaptableLayers().Select(l => l.Name).Where(n => n != model.OutputHeadModule).Order(StringComparer.Ordinal);
        Assert.Equal(expected, everyLinear.TargetedModules.Order(StringComparer.Ordinal));
        model.eval();
        using (no_grad())
        {
            Assert.Equal(0, MaxAbsDiff(model.ForwardHidden(ids), before));   // fresh adapters start as the identity
        }
    }
}
