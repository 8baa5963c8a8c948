using System.Runtime.InteropServices;

namespace Microsoft.ML.Lora.Runtime;

/// <summary>
/// Finds out why TorchSharp's native backend failed to load, by loading libLibTorchSharp.so itself and reading the
/// loader's message: a libstdc++ without GLIBCXX_3.4.32 (the library was not patched by the package's build step) is
/// the common case on Debian 12 and Ubuntu 22.04.
/// </summary>
internal static partial class NativeBackendDiagnosis
{
    public const string LibraryFileName = "libLibTorchSharp.so";
    public const string RequiredVersion = "GLIBCXX_3.4.32";

    /// <summary>
    /// Loads the application's libLibTorchSharp.so before TorchSharp does and returns the typed exception when the
    /// loader refuses it — before TorchSharp's own fallback would print its trace and copy libtorch into the
    /// application's folder. Null when it loads or is not found (TorchSharp then looks for itself).
    /// </summary>
    public static NativeBackendUnavailableException? ProbeBeforeLoad()
    {
        if (!OperatingSystem.IsLinux() || NativeLibraryFiles.Find(LibraryFileName) is not { } library)
        {
            return null;
        }
        return LoaderError(library) is { } error ? ForLoaderError(library, error, null) : null;
    }

    /// <summary>The typed exception that explains <paramref name="failure"/> (TorchSharp's own load error).</summary>
    public static Exception Explain(Exception failure)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new NativeBackendUnavailableException($"TorchSharp's native backend failed to load: {failure.Message}", null, failure);
        }
        var library = NativeLibraryFiles.Find(LibraryFileName);
        if (library is null)
        {
            return new NativeBackendUnavailableException(
                $"TorchSharp's native library {LibraryFileName} is not in the application's folders ({string.Join(", ", NativeLibraryFiles.Folders())}). " +
                "Reference the Microsoft.ML.Lora package (it brings TorchSharp-cpu) or a TorchSharp backend package such as TorchSharp-cuda-linux.", null, failure);
        }
        return LoaderError(library) is { } error
            ? ForLoaderError(library, error, failure)
            : new NativeBackendUnavailableException($"TorchSharp's native backend failed to load although {library} loads: {failure.Message}", library, failure);
    }

    /// <summary>The exception for a loader message about <paramref name="library"/>.</summary>
    public static NativeBackendUnavailableException ForLoaderError(string library, string loaderError, Exception? inner) =>
        loaderError.Contains(RequiredVersion, StringComparison.Ordinal)
            ? new NativeBackendUnavailableException(
                $"{library} needs {RequiredVersion} (the libstdc++ of GCC 13 or later), which this system's libstdc++ lacks " +
                $"(loader: {loaderError.Trim()}). The Microsoft.ML.Lora package patches a copy of that file in your build output so " +
                "that it loads here; this one was not patched. Fix: build or publish the application with the Microsoft.ML.Lora " +
                "package referenced (not with MlLoraPatchTorchSharp=false), run it from that output folder, and look for warning " +
                "MLLORA001 in the build log; or install a libstdc++ from GCC 13 or later.", library, inner)
            : new NativeBackendUnavailableException($"TorchSharp's native library {library} failed to load: {loaderError.Trim()}", library, inner);

    /// <summary>The dynamic loader's message when <paramref name="library"/> cannot be loaded, or null when it loads.</summary>
    public static string? LoaderError(string library)
    {
        try
        {
            LastError();   // binds dlerror now: resolving it on first use would clear the message read below
            var handle = Open(library, LoadNow);
            if (handle != IntPtr.Zero)
            {
                return null;
            }
            var message = LastError();
            return message == IntPtr.Zero ? "unknown dlopen failure" : Marshal.PtrToStringUTF8(message);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null; // not glibc: nothing more to learn here
        }
    }

    private const int LoadNow = 0x2;   // RTLD_NOW (RTLD_LOCAL)

    [LibraryImport("libc", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "dlerror")]
    private static partial IntPtr LastError();
}
