namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// Applies <see cref="LoraRuntimeSettings"/> once, at the library's first use of TorchSharp, and reports what it changed
/// in the host process. Code that calls TorchSharp itself before any of this library's entry points should call
/// <see cref="Start"/> first, since the settings only take effect before libtorch loads.
/// </summary>
public static class LoraRuntime
{
    private static readonly object Gate = new();
    private static LoraRuntimeSettings _settings = new();
    private static IReadOnlyList<string> _changes = [];
    private static bool _started;

    /// <summary>The settings in force (or to be applied at first use).</summary>
    public static LoraRuntimeSettings Settings
    {
        get { lock (Gate) { return _settings; } }
    }

    /// <summary>Whether the settings have been applied (TorchSharp has been initialised by this library).</summary>
    public static bool IsStarted
    {
        get { lock (Gate) { return _started; } }
    }

    /// <summary>What the library changed in this process, e.g. <c>GOMP_SPINCOUNT=10000</c>; empty before the first use.</summary>
    public static IReadOnlyList<string> Changes
    {
        get { lock (Gate) { return _changes; } }
    }

    /// <summary>Replaces the settings; throws <see cref="LoraRuntimeStartedException"/> once they have been applied.</summary>
    /// <param name="configure">Returns the new settings from the current ones (e.g. <c>s =&gt; s with { OpenMpSpinCount = null }</c>).</param>
    public static void Configure(Func<LoraRuntimeSettings, LoraRuntimeSettings> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        lock (Gate)
        {
            if (_started)
            {
                throw new LoraRuntimeStartedException(_changes);
            }
            var next = configure(_settings) ?? throw new ArgumentException("The configure function returned null.", nameof(configure));
            next.Validate();
            _settings = next;
        }
    }

    /// <summary>Applies the settings and initialises TorchSharp now (otherwise this happens at the first model load or <c>Fit</c>).</summary>
    public static void Start() => TorchDevices.EnsureInitialized();

    /// <summary>Called by <see cref="TorchDevices.EnsureInitialized"/> before TorchSharp's native libraries load.</summary>
    internal static void ApplyBeforeNativeLoad()
    {
        lock (Gate)
        {
            if (_started)
            {
                return;
            }
            var changes = new List<string>();
            if (MklCpuDispatch.Apply(_settings.MklVendorDispatch))
            {
                changes.Add($"loaded {MklCpuDispatch.LibraryFileName} globally");
            }
            if (OpenMpWaitPolicy.Apply(_settings.OpenMpSpinCount) is { } spin)
            {
                changes.Add($"GOMP_SPINCOUNT={spin}");
            }
            NativeAllocator.Enabled = _settings.LeanAllocatorWithCheckpointing;
            _changes = changes;
            _started = true;
        }
    }

    /// <summary>Records a change made after start (the thread count, the allocator threshold).</summary>
    internal static void Record(string change)
    {
        lock (Gate)
        {
            _changes = [.. _changes, change];
        }
    }
}

/// <summary>The runtime settings were changed after the library had applied them (at its first use of TorchSharp).</summary>
public sealed class LoraRuntimeStartedException(IReadOnlyList<string> applied)
    : InvalidOperationException(
        "The LoRA runtime settings are applied once, before libtorch loads, and that has happened already" +
        (applied.Count == 0 ? "" : $" ({string.Join(", ", applied)})") +
        ". Call LoraRuntime.Configure (or MLContext.ConfigureLoraRuntime) before the first model load or Fit, or use the environment variables.")
{
    /// <summary>What had been applied.</summary>
    public IReadOnlyList<string> Applied { get; } = applied;
}
