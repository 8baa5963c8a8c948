using System.CommandLine;
using Microsoft.ML.Lora.Adapters.Storage;

namespace MlLora.Cli.Commands;

/// <summary>The <c>--quantize none|nf4|int8</c> flag of <c>train</c>, <c>sweep</c> and <c>bench train</c>.</summary>
internal static class QuantizeOption
{
    private static readonly (string Name, FrozenWeightQuantization Value)[] Values =
        [("none", FrozenWeightQuantization.None), ("nf4", FrozenWeightQuantization.Nf4), ("int8", FrozenWeightQuantization.Int8)];

    /// <summary>A fresh option (each command owns its own).</summary>
    public static Option<string> Create() => new("--quantize")
    {
        Description = "Store the frozen base's linear layers as none | nf4 (QLoRA 4-bit NormalFloat) | int8 (LoRA only)",
        DefaultValueFactory = _ => "none",
    };

    /// <summary>The quantisation a flag value names.</summary>
    public static FrozenWeightQuantization Parse(string value)
    {
        foreach (var (name, quantization) in Values)
        {
            if (string.Equals(name, value, StringComparison.OrdinalIgnoreCase))
            {
                return quantization;
            }
        }
        throw new ArgumentException($"--quantize '{value}' is not one of {string.Join(", ", Values.Select(v => v.Name))}.");
    }
}
