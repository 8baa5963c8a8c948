using Microsoft.ML.Lora.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Performance;

public class FusedAdamWTests
{
    /// <summary>Two independent copies of the same parameters (shapes like LoRA's A and B), one per optimizer.</summary>
    private static (Parameter[] Reference, Parameter[] Fused) TwinParameters(int seed)
    {
        var generator = new Generator((ulong)seed);
        long[][] shapes = [[4, 16], [24, 4], [4, 24], [16, 4], [7]];
        var reference = shapes.Select(s => new Parameter(randn(s, generator: generator))).ToArray();
        var fused = reference.Select(p => new Parameter(p.detach().clone())).ToArray();
        return (reference, fused);
    }

    /// <summary>A loss whose gradients differ per parameter and per step.</summary>
    private static void Backward(Parameter[] parameters, int step, bool skipLast = false)
    {
        var used = skipLast ? parameters[..^1] : parameters;
        Tensor loss = zeros(1);
        for (int i = 0; i < used.Length; i++)
        {
            loss = loss + used[i].pow(2).sum() * (0.1 * (i + 1)) + used[i].sin().sum() * (step + 1);
        }
        loss.backward();
    }

    private static AdamW.ParamGroup[] Groups(Parameter[] p) =>
    [
        new AdamW.ParamGroup(p[..3], lr: 0.01, weight_decay: 0.1),
        new AdamW.ParamGroup(p[3..], lr: 0.05, weight_decay: 0.0),
    ];

    /// <summary>
    /// Steps both optimizers on the same gradients (the last parameter gets none before step <paramref name="lastUsedFrom"/>),
    /// clipping first when <paramref name="maxNorm"/> is given, then checks the parameters agree.
    /// </summary>
    private static void StepBoth(OptimizerHelper expected, FusedAdamW actual, Parameter[] reference, Parameter[] fused, int steps, int lastUsedFrom = 0, double? maxNorm = null)
    {
        for (int step = 0; step < steps; step++)
        {
            Backward(reference, step, skipLast: step < lastUsedFrom);
            Backward(fused, step, skipLast: step < lastUsedFrom);
            if (maxNorm is { } max)
            {
                Assert.Equal(nn.utils.clip_grad_norm_(reference, max), actual.ClipGradNorm(max), 4);
            }
            expected.step();
            actual.step();
            expected.zero_grad();
            actual.zero_grad();
        }
        for (int i = 0; i < reference.Length; i++)
        {
            Assert.Equal(reference[i].shape, fused[i].shape);
            Assert.True(reference[i].allclose(fused[i], rtol: 1e-5, atol: 1e-6), $"parameter {i} differs");
        }
    }

    [Fact]
    public void MatchesTorchSharpAdamWWithGroupsDecayAndClipping()
    {
        using var scope = NewDisposeScope();
        var (reference, fused) = TwinParameters(1);
        using var expected = optim.AdamW(Groups(reference), lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-6, weight_decay: 0.1);
        using var actual = new FusedAdamW(Groups(fused), lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1);
        StepBoth(expected, actual, reference, fused, steps: 6, maxNorm: 5.0);
        Assert.All(fused, p => Assert.Equal(0f, p.grad!.abs().sum().item<float>()));
    }

    [Fact]
    public void ParameterWithoutGradientIsSkippedLikeAdamW()
    {
        using var scope = NewDisposeScope();
        var (reference, fused) = TwinParameters(2);
        using var expected = optim.AdamW(Groups(reference), lr: 0.01, weight_decay: 0.1);
        using var actual = new FusedAdamW(Groups(fused), lr: 0.01, weightDecay: 0.1);
        // The last parameter gets no gradient for three steps (AdamW skips it: no decay, no step count), then does.
        StepBoth(expected, actual, reference, fused, steps: 5, lastUsedFrom: 3);
    }

    [Fact]
    public void ParametersAreViewsOfOneBufferPerGroup()
    {
        using var scope = NewDisposeScope();
        var (_, fused) = TwinParameters(3);
        var before = fused.Select(p => p.detach().clone()).ToArray();
        using var optimizer = new FusedAdamW(Groups(fused));
        Assert.Equal(2, optimizer.FlatParameters.Count);
        Assert.Equal(fused[..3].Sum(p => p.numel()), optimizer.FlatParameters[0].numel());
        for (int i = 0; i < fused.Length; i++)
        {
            Assert.True(before[i].eq(fused[i]).all().item<bool>(), $"parameter {i} changed value when moved");
        }
        using (no_grad())
        {
            optimizer.FlatParameters[0].fill_(2f);
        }
        Assert.Equal(2f, fused[0].mean().item<float>());
        Assert.True(fused[0].requires_grad);
    }

    [Fact]
    public void StateSavedAndLoadedContinuesIdentically()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "optimizer.bin");
        var (first, second) = TwinParameters(4);
        using var original = new FusedAdamW(Groups(first), lr: 0.02);
        for (int step = 0; step < 3; step++)
        {
            Backward(first, step);
            original.step();
            original.zero_grad();
        }
        original.save_state_dict(file);
        using (no_grad())
        {
            for (int i = 0; i < first.Length; i++)
            {
                second[i].copy_(first[i]);
            }
        }
        using var resumed = new FusedAdamW(Groups(second), lr: 0.02);
        resumed.load_state_dict(file);
        Backward(first, 3);
        Backward(second, 3);
        original.step();
        resumed.step();
        for (int i = 0; i < first.Length; i++)
        {
            Assert.True(first[i].allclose(second[i], rtol: 1e-6, atol: 1e-7), $"parameter {i} differs after resume");
        }
    }
}
