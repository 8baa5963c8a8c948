namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// TorchSharp's native library could not be loaded, with the real reason (TorchSharp's own message blames a missing
/// libtorch package whatever the cause). <see cref="LibraryPath"/> is the file that failed, when one was found.
/// </summary>
public sealed class NativeBackendUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NativeBackendUnavailableException(string message, string? libraryPath, Exception? inner)
        : base(message, inner) => LibraryPath = libraryPath;

    /// <summary>The native library that failed to load, or null when none was found.</summary>
    public string? LibraryPath { get; }
}
