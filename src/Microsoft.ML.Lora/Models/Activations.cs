using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>The activation functions named by HF configs (<c>hidden_act</c>, <c>activation_function</c>, <c>activation</c>).</summary>
public static class Activations
{
    /// <summary>The names this library implements.</summary>
    public static readonly IReadOnlyList<string> Supported = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish"];

    /// <summary>Whether <paramref name="name"/> is implemented.</summary>
    public static bool IsSupported(string name) => Supported.Contains(name);

    /// <summary>
    /// Applies the named activation. "gelu" is the exact erf form (BERT); "gelu_new" and "gelu_pytorch_tanh"
    /// are the tanh approximation 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³))) (GPT-2), computed by torch's fused
    /// kernel: HF's gelu_new spells the same formula out in separate ops, which can differ in the last bit
    /// but would keep four extra activations alive for backward.
    /// </summary>
    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "gelu" => nn.functional.gelu(x),
        "gelu_new" or "gelu_pytorch_tanh" => nn.functional.gelu(x, GELU.Approximate.tanh),
        "relu" => nn.functional.relu(x),
        "silu" or "swish" => nn.functional.silu(x),
        _ => throw new NotSupportedException($"Activation '{name}' is not supported (supported: {string.Join(", ", Supported)})."),
    };
}
