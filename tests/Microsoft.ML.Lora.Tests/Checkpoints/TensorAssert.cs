using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

/// <summary>Assertions on whole tensors and models.</summary>
public static class TensorAssert
{
    /// <summary>Same dtype, same shape, and the same bytes (so NaN payloads and -0.0 count too).</summary>
    public static void BitExact(Tensor expected, Tensor actual, string name = "tensor")
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        using var e = expected.cpu().contiguous();
        using var a = actual.cpu().contiguous();
        Assert.True(e.bytes.SequenceEqual(a.bytes), $"{name}: bytes differ");
    }

    /// <summary>The same state-dict keys with bit-identical tensors (the expected ones first converted to <paramref name="convertedTo"/>).</summary>
    public static void SameState(PretrainedModel expected, PretrainedModel actual, ScalarType? convertedTo = null)
    {
        var a = expected.state_dict();
        var b = actual.state_dict();
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, tensor) in a)
        {
            using var converted = convertedTo is null ? tensor.alias() : tensor.to(convertedTo.Value);
            BitExact(converted, b[name], name);
        }
    }

    /// <summary>Bit-identical classification logits on a small padded batch (both models in eval mode).</summary>
    public static void SameClassificationLogits(PretrainedModel expected, PretrainedModel actual)
    {
        using var scope = NewDisposeScope();
        var ids = tensor(new long[,] { { 3, 4, 5, 0 }, { 6, 7, 8, 9 } });
        var mask = tensor(new long[,] { { 1, 1, 1, 0 }, { 1, 1, 1, 1 } });
        expected.eval();
        actual.eval();
        BitExact(expected.ClassificationLogits(ids, mask), actual.ClassificationLogits(ids, mask), "classification logits");
    }
}
