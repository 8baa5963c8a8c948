using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

/// <summary>Assertions on whole tensors.</summary>
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
}
