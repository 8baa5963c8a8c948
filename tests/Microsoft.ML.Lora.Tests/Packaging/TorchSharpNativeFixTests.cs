using System.Text;
using BuildTools;
using Microsoft.ML.Lora.Runtime;

namespace Microsoft.ML.Lora.Tests.Packaging;

/// <summary>
/// The managed ELF patch that lets TorchSharp 0.107's libLibTorchSharp.so load on a libstdc++ without GLIBCXX_3.4.32
/// (build/BuildTools, shipped in the package), checked on TorchSharp's own file from the NuGet cache, and the typed
/// error a user gets where the file was not patched.
/// </summary>
public sealed class TorchSharpNativeFixTests : IDisposable
{
    private const string Shim = TorchSharpLoadFix.ShimFileName;
    private readonly string _folder = Directory.CreateTempSubdirectory("native-fix-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void PatchPrependsTheShimKeepsEveryOtherEntryAndWeakensTheVersionNeed()
    {
        var original = File.ReadAllBytes(PristineLibrary());
        var before = new ElfImage((byte[])original.Clone());
        var patched = (byte[])original.Clone();

        Assert.False(LibTorchSharpPatcher.IsPatched(patched, Shim));
        LibTorchSharpPatcher.Patch(patched, Shim);

        var after = new ElfImage(patched);
        var (entriesBefore, _) = before.DynamicEntries();
        var (entriesAfter, _) = after.DynamicEntries();
        Assert.Equal(entriesBefore.Count + 1, entriesAfter.Count);
        Assert.Equal((ElfImage.DtNeeded, Shim), (entriesAfter[0].Tag, after.DynamicString(entriesAfter[0].Value)));
        var neededBefore = entriesBefore.Where(e => e.Tag == ElfImage.DtNeeded).Select(e => before.DynamicString(e.Value));
        var neededAfter = entriesAfter.Skip(1).Where(e => e.Tag == ElfImage.DtNeeded).Select(e => after.DynamicString(e.Value));
        Assert.Equal(neededBefore, neededAfter);
        Assert.Equal("$ORIGIN/", after.DynamicString(entriesAfter.Single(e => e.Tag == ElfImage.DtRunpath).Value));
        // Every other name in the string table reads as before: symbols, version needs, soname.
        Assert.Equal(
            Names(before).Where(n => !n.StartsWith("$ORIGIN", StringComparison.Ordinal)),
            Names(after).Where(n => !n.StartsWith("$ORIGIN", StringComparison.Ordinal) && n != Shim));
        Assert.True(LibTorchSharpPatcher.IsPatched(patched, Shim));
        // Only the dynamic section, the string table and the version tables change.
        Assert.Equal(original.Length, patched.Length);
    }

    [Fact]
    public void PatchingTwiceChangesNothingAndTheBuildOutputHoldsThePatchedFile()
    {
        var patched = File.ReadAllBytes(PristineLibrary());
        LibTorchSharpPatcher.Patch(patched, Shim);
        var again = (byte[])patched.Clone();
        LibTorchSharpPatcher.Patch(again, Shim);

        Assert.Equal(patched, again);
        Assert.Equal(patched, File.ReadAllBytes(OutputLibrary()));
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(OutputLibrary())!, Shim)));
    }

    [Fact]
    public void ANameSharingTheOverwrittenBytesStopsThePatch()
    {
        var bytes = File.ReadAllBytes(PristineLibrary());
        var elf = new ElfImage(bytes);
        var (entries, _) = elf.DynamicEntries();
        int runpath = entries.FindIndex(e => e.Tag == ElfImage.DtRunpath);
        // Point the SONAME into the middle of the RUNPATH string, as a linker's tail merging could.
        int soname = entries.FindIndex(e => e.Tag == ElfImage.DtSoname);
        entries[soname] = (ElfImage.DtSoname, entries[runpath].Value + 12);
        elf.WriteDynamicEntries(entries);

        var error = Assert.Throws<InvalidDataException>(() => LibTorchSharpPatcher.Patch(bytes, Shim));
        Assert.Contains("shares the RUNPATH", error.Message);
    }

    [Fact]
    public void AnUnpatchedLibraryGetsTheTypedErrorNamingTheVersionTheFileAndTheFix()
    {
        // The pristine file beside the output's libtorch, so that only libstdc++ can stop it loading.
        var native = Path.GetDirectoryName(OutputLibrary())!;
        foreach (var dependency in Directory.GetFiles(native, "lib*.so*").Where(f => !f.EndsWith("libLibTorchSharp.so", StringComparison.Ordinal)))
        {
            File.CreateSymbolicLink(Path.Combine(_folder, Path.GetFileName(dependency)), dependency);
        }
        var library = Path.Combine(_folder, "libLibTorchSharp.so");
        File.Copy(PristineLibrary(), library);

        var loaderError = NativeBackendDiagnosis.LoaderError(library);
        if (SystemLibStdCxxHas(NativeBackendDiagnosis.RequiredVersion))
        {
            Assert.Null(loaderError);
            return;
        }
        Assert.NotNull(loaderError);
        var error = NativeBackendDiagnosis.ForLoaderError(library, loaderError, null);
        Assert.Equal(library, error.LibraryPath);
        Assert.Contains("GLIBCXX_3.4.32", error.Message);
        Assert.Contains(library, error.Message);
        Assert.Contains("MlLoraPatchTorchSharp", error.Message);
        Assert.Null(NativeBackendDiagnosis.LoaderError(OutputLibrary()));
    }

    private static IEnumerable<string> Names(ElfImage elf) => elf.DynamicStringReferences().Select(elf.DynamicString);

    private static string OutputLibrary()
    {
        var path = NativeLibraryFiles.Find("libLibTorchSharp.so");
        return path ?? throw new FileNotFoundException("libLibTorchSharp.so is not in the test output.");
    }

    /// <summary>TorchSharp's file as the package ships it (the NuGet cache is read, never written).</summary>
    private static string PristineLibrary()
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(packages, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        return File.Exists(path) ? path : throw new FileNotFoundException($"TorchSharp's native library is not in the NuGet cache at {path}.", path);
    }

    private static bool SystemLibStdCxxHas(string version)
    {
        var candidates = new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6" };
        var library = candidates.FirstOrDefault(File.Exists) ?? throw new FileNotFoundException("No system libstdc++.so.6 found.");
        return File.ReadAllBytes(library).AsSpan().IndexOf(Encoding.ASCII.GetBytes(version)) >= 0;
    }
}
