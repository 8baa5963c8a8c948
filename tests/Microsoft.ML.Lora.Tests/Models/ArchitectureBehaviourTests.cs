using Microsoft.ML.Lora.Models;
using static Microsoft.ML.Lora.Tests.Models.ReferenceMath;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>Contracts every architecture keeps: KV cache equals the full pass, padding is invisible, inputs are checked.</summary>
public class ArchitectureBehaviourTests
{
    private static readonly long[] Sequence = [4, 19, 33, 7, 51, 12, 28, 9, 44];
    private const long PadId = 3;

    [Theory]
    [MemberData(nameof(TinyModels.DecoderKinds), MemberType = typeof(TinyModels))]
    public void KvCachePathEqualsFullSequencePath(string kind)
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var full = TinyModels.Logits(model, TinyModels.Ids(Sequence));
        using var cache = model.CreateKvCache();
        // A 5-token prompt, one token, a 2-token chunk (queries after cached keys), then one token at a time.
        int[] chunks = [5, 1, 2, 1];
        int start = 0;
        foreach (int length in chunks)
        {
            var ids = TinyModels.Ids(Sequence[start..(start + length)]);
            var step = model.LanguageModelLogits(model.ForwardHiddenCached(ids, null, cache));
            Assert.InRange(MaxAbsDiff(step, full[.., start..(start + length)]), 0, 1e-5);
            start += length;
        }
        Assert.Equal(Sequence.Length, cache.Length);
    }

    [Theory]
    [MemberData(nameof(TinyModels.DecoderKinds), MemberType = typeof(TinyModels))]
    public void KvCacheWithLeftPaddedBatchMatchesEachRowAlone(string kind)
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // Row 0: the full 9 tokens; row 1: its last 6 tokens, left-padded by 3.
        var ids = tensor(Sequence.Concat(new long[] { PadId, PadId, PadId }.Concat(Sequence[3..])).ToArray(), [2, 9]);
        var mask = tensor(Enumerable.Repeat(1L, 9).Concat([0, 0, 0]).Concat(Enumerable.Repeat(1L, 6)).ToArray(), [2, 9]);
        using var cache = model.CreateKvCache();
        var prompt = model.LanguageModelLogits(model.ForwardHiddenCached(ids[.., ..6], mask[.., ..6], cache));
        var steps = Enumerable.Range(6, 3).Select(t => model.LanguageModelLogits(model.ForwardHiddenCached(ids[.., t..(t + 1)], mask[.., ..(t + 1)], cache))).ToList();
        var batched = cat([prompt, .. steps], 1);
        var alone0 = TinyModels.Logits(model, TinyModels.Ids(Sequence));
        var alone1 = TinyModels.Logits(model, TinyModels.Ids(Sequence[3..]));
        Assert.InRange(MaxAbsDiff(batched[0..1], alone0), 0, 1e-5);
        Assert.InRange(MaxAbsDiff(batched[1..2, 3..], alone1), 0, 1e-5);
    }

    [Theory]
    [MemberData(nameof(TinyModels.DecoderKinds), MemberType = typeof(TinyModels))]
    [MemberData(nameof(TinyModels.EncoderKinds), MemberType = typeof(TinyModels))]
    public void LeftAndRightPaddingLeaveRealTokensUnchanged(string kind)
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var real = Sequence[..5];
        var alone = model.ForwardHidden(TinyModels.Ids(real), null);
        var pads = new long[] { PadId, PadId, PadId };
        var ids = tensor(real.Concat(pads).Concat(pads).Concat(real).ToArray(), [2, 8]);
        var mask = tensor(new long[] { 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1 }, [2, 8]);
        var padded = model.ForwardHidden(ids, mask);
        Assert.InRange(MaxAbsDiff(padded[0..1, ..5], alone), 0, 1e-5);
        Assert.InRange(MaxAbsDiff(padded[1..2, 3..], alone), 0, 1e-5);
    }

    [Theory]
    [MemberData(nameof(TinyModels.DecoderKinds), MemberType = typeof(TinyModels))]
    [MemberData(nameof(TinyModels.EncoderKinds), MemberType = typeof(TinyModels))]
    public void ClassificationAndRegressionHeadsIgnorePadding(string kind)
    {
        foreach (int labels in new[] { 3, 1 })
        {
            using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
            model.AddClassificationHead(labels);
            model.eval();
            Assert.Equal(labels, model.ClassificationLabels);
            Assert.All(model.ClassificationHeadModules, name => Assert.Contains(model.state_dict().Keys, k => k.StartsWith(name + ".", StringComparison.Ordinal)));
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var real = Sequence[..4];
            var alone = model.ClassificationLogits(TinyModels.Ids(real), ones(1, 4, ScalarType.Int64));
            var ids = tensor(real.Concat([PadId, PadId, PadId, PadId]).Concat(real).ToArray(), [2, 6]);
            var mask = tensor(new long[] { 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 }, [2, 6]);
            var batched = model.ClassificationLogits(ids, mask);
            Assert.Equal(new long[] { 2, labels }, batched.shape);
            Assert.InRange(MaxAbsDiff(batched[0..1], alone), 0, 1e-5);
            Assert.InRange(MaxAbsDiff(batched[1..2], alone), 0, 1e-5);
            Assert.Throws<InvalidOperationException>(() => model.AddClassificationHead(labels));
        }
    }

    [Theory]
    [MemberData(nameof(TinyModels.DecoderKinds), MemberType = typeof(TinyModels))]
    [MemberData(nameof(TinyModels.EncoderKinds), MemberType = typeof(TinyModels))]
    public void E042_TokenIdOutOfRangeOrSequenceTooLongGetTypedErrorsNamingTheValue(string kind)
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
        using var scope = NewDisposeScope();
        int vocab = model.Config.VocabularySize;
        var tooBig = Assert.Throws<TokenIdOutOfRangeException>(() => model.ForwardHidden(TinyModels.Ids(1, vocab + 4, 2)));
        Assert.Equal(vocab + 4, tooBig.TokenId);
        Assert.Contains((vocab + 4).ToString(System.Globalization.CultureInfo.InvariantCulture), tooBig.Message);
        Assert.Equal(-1, Assert.Throws<TokenIdOutOfRangeException>(() => model.ForwardHidden(TinyModels.Ids(1, -1))).TokenId);
        Assert.Throws<EmptyInputException>(() => model.ForwardHidden(zeros(1, 0, ScalarType.Int64)));
        int max = model.MaxSequenceLength!.Value;
        var tooLong = Assert.Throws<SequenceTooLongException>(() => model.ForwardHidden(ones(1, max + 1, ScalarType.Int64)));
        Assert.Equal(max + 1, tooLong.Length);
        Assert.Throws<ModelInputException>(() => model.ForwardHidden(TinyModels.Ids(1, 2), ones(1, 3, ScalarType.Int64)));
        Assert.Throws<ModelInputException>(() => model.ForwardHidden(tensor(new float[] { 1, 2 }, [1, 2])));
        // The full length is still accepted.
        Assert.Equal(max, model.ForwardHidden(ones(1, max, ScalarType.Int64)).shape[1]);
    }

    [Theory]
    [MemberData(nameof(TinyModels.DecoderKinds), MemberType = typeof(TinyModels))]
    public void CachedDecodingStopsAtMaxPositionsWithATypedError(string kind)
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var cache = model.CreateKvCache();
        int max = model.MaxSequenceLength!.Value;
        model.ForwardHiddenCached(ones(1, max, ScalarType.Int64), null, cache);
        var error = Assert.Throws<SequenceTooLongException>(() => model.ForwardHiddenCached(ones(1, 1, ScalarType.Int64), null, cache));
        Assert.Equal(max + 1, error.Length);
    }

    [Theory]
    [MemberData(nameof(TinyModels.DecoderKinds), MemberType = typeof(TinyModels))]
    [MemberData(nameof(TinyModels.EncoderKinds), MemberType = typeof(TinyModels))]
    public void TrainingModeAppliesConfiguredDropoutAndBackpropagates(string kind)
    {
        var config = TinyModels.ConfigFor(kind);
        if (config is Microsoft.ML.Lora.Models.Llama.LlamaConfig llama)
        {
            llama.AttentionDropout = 0.3;   // Llama's default is 0; the others default to 0.1
        }
        using var model = TinyModels.Create(config);
        model.AddClassificationHead(2);
        using var scope = NewDisposeScope();
        var ids = TinyModels.Ids(Sequence);
        var mask = ones(1, Sequence.Length, ScalarType.Int64);
        model.eval();
        using (no_grad())
        {
            Assert.Equal(0, MaxAbsDiff(model.ClassificationLogits(ids, mask), model.ClassificationLogits(ids, mask)));
        }
        model.train();
        var first = model.ClassificationLogits(ids, mask);
        Assert.True(MaxAbsDiff(first, model.ClassificationLogits(ids, mask)) > 0, "dropout should make training passes differ");
        first.sum().backward();
        var (name, layer) = model.AdaptableLayers().First(l => l.Name.Contains("0.", StringComparison.Ordinal));
        Assert.True(layer.weight.grad is not null && layer.weight.grad.abs().sum().item<float>() > 0, $"{name} got no gradient");
    }

    [Theory]
    [MemberData(nameof(TinyModels.EncoderKinds), MemberType = typeof(TinyModels))]
    public void EncodersRefuseLanguageModelingAndCaches(string kind)
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor(kind));
        Assert.False(model.IsCausalLanguageModel);
        Assert.False(model.SupportsKvCache);
        using var scope = NewDisposeScope();
        Assert.Throws<LanguageModelHeadNotSupportedException>(() => model.LanguageModelLogits(zeros(1, 2, model.Config.ModelWidth)));
        Assert.Throws<NotSupportedException>(() => model.CreateKvCache());
    }
}
