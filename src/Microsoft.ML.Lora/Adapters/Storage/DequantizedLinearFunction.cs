using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Microsoft.ML.Lora.Adapters.Storage;

/// <summary>
/// y = x·Wᵀ over a quantised frozen W: forward dequantises W, multiplies and drops the dense copy; backward
/// dequantises again for ∂x = ∂y·W. Nothing but the reference to the packed storage is kept for backward (autograd
/// would otherwise save the dense W of an ordinary linear), and W gets no gradient (it is frozen).
/// </summary>
internal sealed class DequantizedLinearFunction : SingleTensorFunction<DequantizedLinearFunction>
{
    private const string StorageKey = "storage";

    public override string Name => nameof(DequantizedLinearFunction);

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var storage = (QuantizedWeight)vars[1];
        ctx.save_data(StorageKey, storage);
        ctx.save_for_backward([]);
        using var w = storage.Dequantize(x.dtype);
        return nn.functional.linear(x, w);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        var storage = (QuantizedWeight)ctx.get_data(StorageKey);
        using var w = storage.Dequantize(grad_output.dtype);
        return [grad_output.matmul(w), null!];
    }
}
