using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Microsoft.ML.Lora.Training;

/// <summary>
/// The LM head product and the next-token cross-entropy fused and computed a block of rows at a time:
/// loss = Σᵢ wᵢ·(logsumexp(zᵢ) − zᵢ[tᵢ]) with z = hidden·Wᵀ. The vocabulary-wide logits exist one block at a time
/// (in fp32 for the softmax), never for the whole batch, and their gradient wᵢ·(softmax(zᵢ) − onehot(tᵢ)) is formed
/// in the same pass while the block is in cache; the gradients of hidden and W are then one product each per block.
/// So the forward pass already computes what the backward pass needs, and the backward pass only scales it. Same
/// matrix products as logits → log_softmax → nll, without the [rows, vocab] fp32 buffers (hundreds of MB at a 50k–150k
/// vocabulary) or their extra passes over memory.
/// </summary>
public static class LinearCrossEntropy
{
    /// <summary>Elements of one block of fp32 logits (32 MiB), so a block stays near the cache.</summary>
    private const long BlockElements = 1L << 23;

    /// <summary>
    /// Σᵢ rowWeights[i]·CE(hidden[i]·Wᵀ, targets[i]) as a scalar fp32 tensor attached to the graph when
    /// <paramref name="hidden"/> or <paramref name="weight"/> requires a gradient and gradients are being recorded.
    /// </summary>
    /// <param name="hidden">[rows, width] in the compute dtype.</param>
    /// <param name="weight">[vocab, width] (the LM head or the tied embedding), same dtype as <paramref name="hidden"/>.</param>
    /// <param name="targets">[rows] int64 token ids.</param>
    /// <param name="rowWeights">[rows] fp32: each row's weight in the sum (0 drops a row; 1/count gives a mean).</param>
    public static Tensor Loss(Tensor hidden, Tensor weight, Tensor targets, Tensor rowWeights)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(rowWeights);
        if (hidden.dim() != 2 || weight.dim() != 2 || hidden.shape[1] != weight.shape[1] || targets.shape[0] != hidden.shape[0] || rowWeights.shape[0] != hidden.shape[0])
        {
            throw new ArgumentException($"Shapes do not fit: hidden [{string.Join(", ", hidden.shape)}], weight [{string.Join(", ", weight.shape)}], targets [{string.Join(", ", targets.shape)}], row weights [{string.Join(", ", rowWeights.shape)}].");
        }
        bool needsGradients = is_grad_enabled() && (hidden.requires_grad || weight.requires_grad);
        if (!needsGradients)
        {
            using var scope = NewDisposeScope();
            return Compute(hidden, weight, targets, rowWeights, false, false).Loss.MoveToOuterDisposeScope();
        }
        return Function.apply(hidden, weight, targets, rowWeights);
    }

    private sealed record Result(Tensor Loss, Tensor? HiddenGradient, Tensor? WeightGradient);

    private static Result Compute(Tensor hidden, Tensor weight, Tensor targets, Tensor rowWeights, bool hiddenGradient, bool weightGradient)
    {
        long rows = hidden.shape[0], vocab = weight.shape[0];
        long block = Math.Clamp(BlockElements / Math.Max(1, vocab), 1, Math.Max(1, rows));
        var loss = zeros(1, ScalarType.Float32, hidden.device);
        var gradHidden = hiddenGradient ? empty_like(hidden) : null;
        var gradWeight = weightGradient ? zeros_like(weight) : null;
        using var noGrad = no_grad();
        for (long start = 0; start < rows; start += block)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(block, rows - start);
            var h = hidden.narrow(0, start, n);
            var t = targets.narrow(0, start, n).unsqueeze(1);
            var w = rowWeights.narrow(0, start, n).to(ScalarType.Float32).unsqueeze(1);
            var z = nn.functional.linear(h, weight).to(ScalarType.Float32);          // [n, vocab] fp32
            var picked = z.gather(1, t);
            // One exp pass serves the loss and the gradient: e = exp(z − max) in place, lse = max + log Σe.
            var max = z.amax([1], keepdim: true);
            var e = z.sub_(max).exp_();
            var sum = e.sum(1, keepdim: true);
            loss.add_(sum.log().add_(max).sub_(picked).mul_(w).sum());
            if (gradHidden is null && gradWeight is null)
            {
                continue;
            }
            // ∂/∂z of wᵢ·(lse − z[t]) = wᵢ·(softmax − onehot) = e·(wᵢ/Σe) − wᵢ·onehot, formed in place in the fp32 block.
            var dz = e.mul_(w.div(sum));
            dz.scatter_add_(1, t, w.neg());
            var dzCompute = dz.to(hidden.dtype);
            gradHidden?.narrow(0, start, n).copy_(dzCompute.mm(weight));
            gradWeight?.add_(dzCompute.t().mm(h));
        }
        return new Result(loss.squeeze(), gradHidden, gradWeight);
    }

    private sealed class Function : SingleTensorFunction<Function>
    {
        public override string Name => nameof(LinearCrossEntropy);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var (hidden, weight, targets, rowWeights) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3]);
            var result = Compute(hidden, weight, targets, rowWeights, hidden.requires_grad, weight.requires_grad);
            ctx.save_for_backward([result.HiddenGradient!, result.WeightGradient!]);
            return result.Loss;
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            Tensor? Scaled(Tensor? gradient) => gradient is null || gradient.IsInvalid ? null : gradient.mul(gradOutput.to(gradient.dtype));
            return [Scaled(saved[0])!, Scaled(saved[1])!, null!, null!];
        }
    }
}
