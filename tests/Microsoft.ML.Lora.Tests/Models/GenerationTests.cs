using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Generation;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>TextGenerator on small random decoders, against an independent argmax loop and hand-built cases.</summary>
public class GenerationTests
{
    private static readonly int[] Prompt = [4, 19, 33, 7];

    public static TheoryData<string> Kinds => new() { "llama", "gpt2" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void GreedyMatchesAPlainArgmaxLoopWithAndWithoutCache(string kind)
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
        var expected = ArgmaxLoop(model, Prompt, 12);
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = 12, EosTokenIds = [] };
        var cached = generator.Generate(Prompt, options);
        var uncached = generator.Generate(Prompt, options with { UseKvCache = false });
        Assert.Equal(expected, cached.TokenIds);
        Assert.Equal(expected, uncached.TokenIds);
        Assert.Equal(GenerationStopReason.MaxNewTokens, cached.StopReason);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void LeftPaddedBatchGeneratesWhatEachPromptGeneratesAlone(string kind)
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxNewTokens = 8, EosTokenIds = [], PadTokenId = 0 };
        int[][] prompts = [[4, 19, 33, 7, 51, 12], [28], [9, 44, 3]];
        var batched = generator.Generate(prompts, options);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(generator.Generate(prompts[i], options).TokenIds, batched[i].TokenIds);
        }
    }

    [Fact]
    public void EndOfSequenceStopsARowAndIsNotReturned()
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor("llama"));
        var generator = new TextGenerator(model);
        var free = generator.Generate(Prompt, new GenerationOptions { MaxNewTokens = 6, EosTokenIds = [] }).TokenIds;
        // The first token (after the first) not produced earlier: stopping on it cuts the output exactly there.
        int stopAt = Enumerable.Range(1, free.Count - 1).First(i => !free.Take(i).Contains(free[i]));
        var stopped = generator.Generate(Prompt, new GenerationOptions { MaxNewTokens = 6, EosTokenIds = [free[stopAt]] });
        Assert.Equal(free.Take(stopAt), stopped.TokenIds);
        Assert.Equal(GenerationStopReason.EndOfSequence, stopped.StopReason);
    }

    [Fact]
    public void StopStringCutsTheTextAndEndsTheRow()
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor("gpt2"));
        static string Decode(IReadOnlyList<int> ids) => string.Concat(ids.Select(i => $"<{i}>"));
        var generator = new TextGenerator(model, Decode);
        var free = generator.Generate(Prompt, new GenerationOptions { MaxNewTokens = 6, EosTokenIds = [] });
        Assert.Equal(Decode(free.TokenIds), free.Text);
        int stopAt = Enumerable.Range(1, free.TokenIds.Count - 1).First(i => !free.TokenIds.Take(i).Contains(free.TokenIds[i]));
        var stop = $"<{free.TokenIds[stopAt]}>";
        var stopped = generator.Generate(Prompt, new GenerationOptions { MaxNewTokens = 6, EosTokenIds = [], StopStrings = [stop] });
        Assert.Equal(GenerationStopReason.StopString, stopped.StopReason);
        Assert.Equal(free.TokenIds.Take(stopAt + 1), stopped.TokenIds);
        Assert.Equal(Decode([.. free.TokenIds.Take(stopAt)]), stopped.Text);
    }

    [Fact]
    public void SeededSamplingRepeatsAndTopKOneIsGreedy()
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor("llama"));
        var generator = new TextGenerator(model);
        var sampling = new GenerationOptions { MaxNewTokens = 10, EosTokenIds = [], Temperature = 1.5, Seed = 1234 };
        var first = generator.Generate(Prompt, sampling).TokenIds;
        Assert.Equal(first, generator.Generate(Prompt, sampling).TokenIds);
        var others = Enumerable.Range(1, 5).Select(s => generator.Generate(Prompt, sampling with { Seed = s }).TokenIds).ToList();
        Assert.Contains(others, o => !o.SequenceEqual(first));
        var greedy = generator.Generate(Prompt, sampling with { Temperature = 0 }).TokenIds;
        Assert.Equal(greedy, generator.Generate(Prompt, sampling with { TopK = 1 }).TokenIds);
        Assert.Equal(greedy, generator.Generate(Prompt, sampling with { TopP = 1e-6 }).TokenIds);
    }

    [Fact]
    public void GenerationStopsWhenTheContextIsFull()
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor("gpt2"));   // 32 positions
        var generator = new TextGenerator(model);
        var prompt = Enumerable.Range(0, 30).Select(i => i % 50 + 3).ToArray();
        var result = generator.Generate(prompt, new GenerationOptions { MaxNewTokens = 10, EosTokenIds = [] });
        Assert.Equal(GenerationStopReason.ContextFull, result.StopReason);
        Assert.Equal(3, result.TokenIds.Count);   // fed lengths 30, 31, 32; the 33rd position is never fed
        Assert.Throws<SequenceTooLongException>(() => generator.Generate(Enumerable.Repeat(3, 33).ToArray()));
    }

    [Fact]
    public void BadRequestsGetClearErrorsAndTrainingModeIsRestored()
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor("llama"));
        model.train();
        var generator = new TextGenerator(model);
        Assert.Throws<EmptyInputException>(() => generator.Generate(Array.Empty<int>()));
        Assert.Throws<EmptyInputException>(() => generator.Generate([[1, 2], []]));
        Assert.Throws<TokenIdOutOfRangeException>(() => generator.Generate([1, 500]));
        Assert.Throws<InvalidOperationException>(() => generator.Generate(Prompt, new GenerationOptions { StopStrings = ["x"] }));
        Assert.Throws<InvalidOperationException>(() => generator.Generate("text needs a tokenizer"));
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(Prompt, new GenerationOptions { TopP = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(Prompt, new GenerationOptions { Temperature = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Generate(Prompt, new GenerationOptions { RepetitionPenalty = 0 }));
        generator.Generate(Prompt, new GenerationOptions { MaxNewTokens = 2 });
        Assert.True(model.training);
        using var encoder = TinyModels.Create(TinyModels.ConfigFor("bert"));
        Assert.Throws<LanguageModelHeadNotSupportedException>(() => new TextGenerator(encoder));
    }

    /// <summary>Greedy decoding spelled out: full forward of the whole sequence, argmax of the last position.</summary>
    private static List<int> ArgmaxLoop(PretrainedModel model, int[] prompt, int steps)
    {
        var sequence = prompt.Select(t => (long)t).ToList();
        var output = new List<int>();
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            var logits = TinyModels.Logits(model, TinyModels.Ids([.. sequence]));
            var last = logits[0, -1].data<float>().ToArray();
            int best = Array.IndexOf(last, last.Max());
            output.Add(best);
            sequence.Add(best);
        }
        return output;
    }
}
