using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Microsoft.ML.Lora.Models;

/// <summary>
/// Gradient checkpointing of one block (PyTorch's reentrant <c>torch.utils.checkpoint</c>): the forward pass runs
/// the block without recording its graph and keeps only its inputs; the backward pass runs the block again with
/// the graph recorded, from the same random-number state (so dropout masks repeat), and back-propagates through
/// it — parameter gradients accumulate as usual, the input gradient is returned. Activation memory then grows with
/// one block instead of all of them, for about one more forward pass of compute.
/// </summary>
public static class ActivationCheckpoint
{
    /// <summary>A block of the form (x, cos, sin, mask) → y whose only input that may need a gradient is x.</summary>
    public delegate Tensor Block(Tensor x, Tensor cos, Tensor sin, Tensor? mask);

    /// <summary>
    /// Runs <paramref name="block"/> checkpointed when gradients are being recorded; otherwise just runs it.
    /// <paramref name="cos"/>, <paramref name="sin"/> and <paramref name="mask"/> must not need gradients.
    /// </summary>
    public static Tensor Run(Block block, Tensor x, Tensor cos, Tensor sin, Tensor? mask)
    {
        ArgumentNullException.ThrowIfNull(block);
        if (!is_grad_enabled())
        {
            return block(x, cos, sin, mask);
        }
        bool inputNeedsGrad = x.requires_grad;
        // The custom node is only recorded when an input requires a gradient; the first block's input (a frozen
        // embedding's output) does not, yet its parameters (LoRA) do. A detached leaf that requires a gradient
        // stands in for it; the node returns no gradient for that leaf.
        using var input = inputNeedsGrad ? null : x.detach().requires_grad_(true);
        return CheckpointFunction.apply(input ?? x, cos, sin, mask, new Recipe(block, inputNeedsGrad, random.get_rng_state().DetachFromDisposeScope()));
    }

    private sealed record Recipe(Block Block, bool InputNeedsGrad, Tensor RandomState);

    private sealed class CheckpointFunction : SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => nameof(ActivationCheckpoint);

        public override Tensor forward(AutogradContext ctx, params object[] vars)
        {
            var (x, cos, sin, mask, recipe) = Unpack(vars);
            ctx.save_for_backward([x, cos, sin, mask!]);
            ctx.save_data(nameof(Recipe), recipe);
            return recipe.Block(x, cos, sin, mask);
        }

        public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
        {
            var recipe = (Recipe)ctx.get_data(nameof(Recipe));
            var saved = ctx.get_saved_variables();
            Tensor? inputGrad = null;
            using (var scope = NewDisposeScope())
            using (enable_grad())
            {
                var current = random.get_rng_state();
                random.set_rng_state(recipe.RandomState);
                try
                {
                    var x = saved[0].detach().requires_grad_(recipe.InputNeedsGrad);
                    var output = recipe.Block(x, saved[1], saved[2], saved[3] is { IsInvalid: false } m ? m : null);
                    TorchSharp.torch.autograd.backward(new[] { output }, new[] { gradOutput });
                    if (recipe.InputNeedsGrad)
                    {
                        inputGrad = x.grad?.MoveToOuterDisposeScope();
                    }
                }
                finally
                {
                    random.set_rng_state(current);
                    recipe.RandomState.Dispose();
                }
            }
            // One gradient per forward argument: x, cos, sin, mask, recipe.
            return [inputGrad!, null!, null!, null!, null!];
        }

        private static (Tensor X, Tensor Cos, Tensor Sin, Tensor? Mask, Recipe Recipe) Unpack(object[] vars) =>
            ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], vars[3] as Tensor, (Recipe)vars[4]);
    }
}
