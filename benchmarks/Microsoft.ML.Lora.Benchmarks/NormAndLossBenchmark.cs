using BenchmarkDotNet.Attributes;
using TorchSharp;
using Microsoft.ML.Lora.Models.Llama;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks.Micro;

/// <summary>
/// RMSNorm over 1024 × 576 activations, and next-token cross-entropy over SmolLM2's 49,152-word vocabulary
/// (1,020 positions): the memory-bound pieces of a training step.
/// </summary>
public class NormAndLossBenchmark : TensorBenchmark
{
    private const int Vocabulary = 49152;
    private RmsNorm _norm = null!;
    private Tensor _x = null!, _logits = null!, _targets = null!, _hidden = null!, _head = null!, _rowWeights = null!;

    /// <inheritdoc />
    protected override void Setup()
    {
        _norm = new RmsNorm(Width, 1e-5);
        _norm.weight.requires_grad_(false);
        _norm.to(Dtype);
        _x = randn([Tokens, Width]).to(Dtype).requires_grad_(true);
        _logits = randn([Tokens - 4, Vocabulary]).to(Dtype).requires_grad_(true);
        _targets = randint(0, Vocabulary, [Tokens - 4]);
        _hidden = randn([Tokens - 4, Width]).to(Dtype).requires_grad_(true);
        _head = (randn([Vocabulary, Width]) * 0.04).to(Dtype);
        _rowWeights = full([Tokens - 4], 1.0 / (Tokens - 4));
    }

    /// <inheritdoc />
    public override void Cleanup()
    {
        _norm.Dispose();
        _x.Dispose();
        _logits.Dispose();
        _targets.Dispose();
        _hidden.Dispose();
        _head.Dispose();
        _rowWeights.Dispose();
    }

    /// <summary>RMSNorm forward and backward.</summary>
    [Benchmark]
    public void RmsNormForwardBackward() => Scoped(() =>
    {
        _norm.forward(_x).sum().backward();
        _x.grad?.zero_();
    });

    /// <summary>LM head product then fp32 cross-entropy (the unfused path), forward and backward to the hidden states.</summary>
    [Benchmark]
    public void LinearThenCrossEntropy() => Scoped(() =>
    {
        nn.functional.cross_entropy(nn.functional.linear(_hidden, _head).to(ScalarType.Float32), _targets).backward();
        _hidden.grad?.zero_();
    });

    /// <summary>The same through <see cref="Training.LinearCrossEntropy"/> (blocked, logits never whole).</summary>
    [Benchmark]
    public void FusedLinearCrossEntropy() => Scoped(() =>
    {
        Training.LinearCrossEntropy.Loss(_hidden, _head, _targets, _rowWeights).backward();
        _hidden.grad?.zero_();
    });

    /// <summary>Cross-entropy (in fp32, as the training objective computes it) forward and backward.</summary>
    [Benchmark]
    public void CrossEntropyForwardBackward() => Scoped(() =>
    {
        nn.functional.cross_entropy(_logits.to(ScalarType.Float32), _targets).backward();
        _logits.grad?.zero_();
    });
}
