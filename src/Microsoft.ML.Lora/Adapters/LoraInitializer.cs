using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// Initial values of A and B for each <see cref="LoraInitialization"/> (PEFT's reset_lora_parameters,
/// pissa_init and olora_init), plus the new base weight for the methods that move part of W into the adapter.
/// Random draws happen on the CPU with the caller's generator, so a seed reproduces an adapter on any device.
/// </summary>
internal static class LoraInitializer
{
    /// <summary>
    /// A [r, in] and B [out, r] in fp32 on the base weight's device, and the new base ([out, in], fp32) when the
    /// method changes it (PiSSA, OLoRA, non-zero) so that the initial model equals the base model.
    /// </summary>
    /// <param name="init">The method.</param>
    /// <param name="settings">Rank, α, rsLoRA.</param>
    /// <param name="weight">The base weight as [out, in] (any dtype).</param>
    /// <param name="generator">Random source, or null for torch's default one.</param>
    /// <param name="modulePath">Names the layer in errors.</param>
    public static (Tensor A, Tensor B, Tensor? NewBase) ForLinear(LoraInitialization init, LoraAdapterSettings settings, Tensor weight, Generator? generator, string modulePath)
    {
        long outFeatures = weight.shape[0], inFeatures = weight.shape[1];
        int r = settings.Rank;
        double scale = settings.Scale;
        var device = weight.device;
        switch (init)
        {
            case LoraInitialization.Default:
                // kaiming_uniform_(a=√5) on [r, in] is U(−1/√in, 1/√in), as for nn.Linear.
                return (Uniform([r, inFeatures], 1.0 / Math.Sqrt(inFeatures), generator, device), zeros([outFeatures, r], device: device), null);
            case LoraInitialization.Gaussian:
                return (Normal([r, inFeatures], 1.0 / r, generator, device), zeros([outFeatures, r], device: device), null);
            case LoraInitialization.Random:
                return (Uniform([r, inFeatures], 1.0 / Math.Sqrt(inFeatures), generator, device), Uniform([outFeatures, r], 1.0 / Math.Sqrt(r), generator, device), null);
            case LoraInitialization.NonZero:
            {
                var a = Uniform([r, inFeatures], 1.0 / Math.Sqrt(inFeatures), generator, device);
                var b = Uniform([outFeatures, r], 1.0 / Math.Sqrt(r), generator, device);
                return (a, b, Compensated(weight, a, b, scale));
            }
            case LoraInitialization.Pissa:
            {
                RequireRankFits(r, outFeatures, inFeatures, "PiSSA", modulePath);
                var (u, s, vh) = linalg.svd(weight.to(ScalarType.Float32), fullMatrices: false);
                // Dividing S by the scale makes scale·B·A exactly the top-r part U_r·S_r·V_rᵀ.
                var root = s[..r].div(scale).sqrt();
                var a = (root.unsqueeze(1) * vh[..r]).contiguous();
                var b = (u[.., ..r] * root.unsqueeze(0)).contiguous();
                return (a, b, Compensated(weight, a, b, scale));
            }
            case LoraInitialization.Olora:
            {
                RequireRankFits(r, outFeatures, inFeatures, "OLoRA", modulePath);
                var (q, rMatrix) = linalg.qr(weight.to(ScalarType.Float32));
                var a = rMatrix[..r].contiguous();
                var b = q[.., ..r].contiguous();
                return (a, b, Compensated(weight, a, b, scale));
            }
            default:
                throw new NotSupportedException($"{modulePath}: init_lora_weights '{init}' cannot initialise a new adapter here (supported: true, gaussian, pissa, olora, nonzero, false).");
        }
    }

    /// <summary>
    /// lora_embedding_A [r, vocab] and lora_embedding_B [dim, r] (PEFT: A zero, B N(0, 1)), and the new base
    /// [vocab, dim] for the non-zero method.
    /// </summary>
    public static (Tensor A, Tensor B, Tensor? NewBase) ForEmbedding(LoraInitialization init, LoraAdapterSettings settings, Tensor weight, Generator? generator, string modulePath)
    {
        long vocabulary = weight.shape[0], dim = weight.shape[1];
        int r = settings.Rank;
        var device = weight.device;
        switch (init)
        {
            case LoraInitialization.Default or LoraInitialization.Gaussian:
                return (zeros([r, vocabulary], device: device), Normal([dim, r], 1.0, generator, device), null);
            case LoraInitialization.Random:
                return (Normal([r, vocabulary], 1.0, generator, device), Normal([dim, r], 1.0, generator, device), null);
            case LoraInitialization.NonZero:
            {
                var a = Normal([r, vocabulary], 1.0, generator, device);
                var b = Normal([dim, r], 1.0, generator, device);
                using var baseT = weight.t();
                using var compensatedT = Compensated(baseT, a, b, settings.Scale);
                return (a, b, compensatedT.t().contiguous());
            }
            default:
                throw new NotSupportedException($"{modulePath}: init_lora_weights '{init}' is not supported for embedding layers (supported: true, gaussian, nonzero, false).");
        }
    }

    /// <summary>W − scale·B·A in fp32: the base that makes base + scale·B·A equal the original W.</summary>
    private static Tensor Compensated(Tensor weight, Tensor a, Tensor b, double scale)
    {
        using var product = b.matmul(a);
        return weight.to(ScalarType.Float32).add(product, -scale);
    }

    private static Tensor Uniform(long[] shape, double bound, Generator? generator, Device device)
    {
        using var cpu = empty(shape, ScalarType.Float32).uniform_(-bound, bound, generator);
        return cpu.to(device);
    }

    private static Tensor Normal(long[] shape, double std, Generator? generator, Device device)
    {
        using var cpu = empty(shape, ScalarType.Float32).normal_(0, std, generator);
        return cpu.to(device);
    }

    private static void RequireRankFits(int r, long outFeatures, long inFeatures, string method, string modulePath)
    {
        if (r > Math.Min(outFeatures, inFeatures))
        {
            throw new ArgumentOutOfRangeException(nameof(r), r, $"{modulePath}: {method} needs r ≤ min(out, in) = {Math.Min(outFeatures, inFeatures)}.");
        }
    }
}
