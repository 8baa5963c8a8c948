using Microsoft.ML.Lora.Runtime;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>Configures the LoRA runtime's process-wide native settings from an <see cref="MLContext"/>.</summary>
public static class LoraRuntimeCatalog
{
    /// <summary>
    /// Replaces <see cref="LoraRuntime.Settings"/> before the library's first use of TorchSharp (the first model load or
    /// <c>Fit</c> in the process); afterwards throws <see cref="LoraRuntimeStartedException"/>. The settings are
    /// process-wide, not per context: libtorch is loaded once per process.
    /// </summary>
    /// <param name="mlContext">The context (the settings apply to the whole process).</param>
    /// <param name="configure">Returns the new settings from the current ones.</param>
    public static void ConfigureLoraRuntime(this MLContext mlContext, Func<LoraRuntimeSettings, LoraRuntimeSettings> configure)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        LoraRuntime.Configure(configure);
    }
}
