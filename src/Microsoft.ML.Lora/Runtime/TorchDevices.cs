using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// Chooses the TorchSharp device for training and scoring. This package references TorchSharp-cpu;
/// to use a GPU, replace that package reference with TorchSharp-cuda-linux (or -windows) of the same
/// version in your application, then ask for "cuda".
/// </summary>
public static class TorchDevices
{
    private static readonly object Gate = new();
    private static int _threadsConfigured;

    /// <summary>
    /// Resolves "cpu", "cuda", "cuda:N" or "auto". When CUDA is asked for but TorchSharp reports it
    /// unavailable, <paramref name="fallbackToCpu"/> decides between CPU and a <see cref="DeviceUnavailableException"/>.
    /// </summary>
    public static Device Resolve(string? requested, bool fallbackToCpu = false)
    {
        EnsureInitialized();
        var name = string.IsNullOrWhiteSpace(requested) ? "cpu" : requested.Trim().ToLowerInvariant();
        if (name == "auto")
        {
            return cuda.is_available() ? CUDA : CPU;
        }
        if (name == "cpu")
        {
            return CPU;
        }
        if (name == "cuda" || name.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (cuda.is_available())
            {
                return new Device(name);
            }
            if (fallbackToCpu)
            {
                return CPU;
            }
            throw new DeviceUnavailableException(name,
                "TorchSharp reports CUDA unavailable. This build references TorchSharp-cpu; reference TorchSharp-cuda-linux " +
                "(same version) instead and run on a machine with an NVIDIA driver, or set the device to \"cpu\" / enable CPU fallback.");
        }
        throw new DeviceUnavailableException(name, "Unknown device: use \"cpu\", \"cuda\", \"cuda:N\" or \"auto\".");
    }

    /// <summary>
    /// Applies <see cref="LoraRuntimeSettings"/>, then loads the native library once and sets intra-op threads
    /// (default: the number of cores, since TorchSharp's default can oversubscribe small machines). When the native library cannot be loaded, throws
    /// <see cref="NativeBackendUnavailableException"/> with the loader's real reason (a missing GLIBCXX_3.4.32, say).
    /// </summary>
    public static void EnsureInitialized()
    {
        if (Volatile.Read(ref _threadsConfigured) == 1)
        {
            return;
        }
        lock (Gate)
        {
            if (_threadsConfigured == 1)
            {
                return;
            }
            if (NativeBackendDiagnosis.ProbeBeforeLoad() is { } unavailable)
            {
                throw unavailable;
            }
            LoraRuntime.ApplyBeforeNativeLoad();
            try
            {
                InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException or InvalidOperationException)
            {
                throw NativeBackendDiagnosis.Explain(e);
            }
            var threads = Environment.GetEnvironmentVariable("LORA_NUM_THREADS") is { } s && int.TryParse(s, out var n) && n > 0
                ? n
                : LoraRuntime.Settings.IntraOpThreads ?? Environment.ProcessorCount;
            set_num_threads(threads);
            LoraRuntime.Record($"torch intra-op threads={threads}");
            Volatile.Write(ref _threadsConfigured, 1);
        }
    }
}

/// <summary>The requested compute device cannot be used.</summary>
public sealed class DeviceUnavailableException(string device, string reason)
    : Exception($"Device '{device}' cannot be used: {reason}")
{
    /// <summary>The device that was asked for.</summary>
    public string Device { get; } = device;
}
