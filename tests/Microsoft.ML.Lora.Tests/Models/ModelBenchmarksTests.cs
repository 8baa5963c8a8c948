using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>The benchmark helper measures every architecture without changing the model.</summary>
public class ModelBenchmarksTests
{
    private static readonly ModelBenchmarkOptions Quick = new() { SequenceLength = 64, PromptLength = 4, DecodeTokens = 6, MinimumForwardTime = TimeSpan.Zero, Threads = 1 };

    [Theory]
    [MemberData(nameof(TinyModels.DecoderKinds), MemberType = typeof(TinyModels))]
    [MemberData(nameof(TinyModels.EncoderKinds), MemberType = typeof(TinyModels))]
    public void MeasuresForwardAndDecodeThroughput(string kind)
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
        model.train();
        int threadsBefore = get_num_threads();
        var result = ModelBenchmarks.Measure(model, Quick);
        Assert.True(model.training);
        Assert.Equal(threadsBefore, get_num_threads());
        Assert.Equal(kind, result.ModelType);
        Assert.Equal(model.MaxSequenceLength, result.SequenceLength);   // 64 requested, clipped to the tiny model's limit
        Assert.True(result.ForwardTokensPerSecond > 0);
        Assert.Equal(model.parameters().Sum(p => p.numel()), result.Parameters);
        if (model.IsCausalLanguageModel)
        {
            Assert.Equal(6, result.DecodeTokens);
            Assert.True(result.DecodeTokensPerSecond > 0);
        }
        else
        {
            Assert.Null(result.DecodeTokensPerSecond);
        }
        Assert.StartsWith(kind, result.Summary);
        Assert.Equal(1, result.Threads);
    }
}
