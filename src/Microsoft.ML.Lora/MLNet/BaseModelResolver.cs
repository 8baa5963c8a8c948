using Microsoft.ML.Lora.MLNet.Persistence;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// Finds the base model of a saved fine-tuned model when it is loaded: first the folder recorded at save
/// time, then each folder of <see cref="SearchPaths"/> (a folder with the same name as the recorded one,
/// or any sub-folder with a matching fingerprint), then <see cref="Resolver"/>. A candidate is accepted
/// only if its <see cref="ModelFingerprint"/> matches the recorded one.
/// </summary>
public static class BaseModelResolver
{
    /// <summary>Folders searched for base models (also read from LORA_BASE_MODEL_PATH, ':'-separated).</summary>
    public static IList<string> SearchPaths { get; } = new List<string>(
        (Environment.GetEnvironmentVariable("LORA_BASE_MODEL_PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));

    /// <summary>A last resort: given the reference, return a folder (or null). Set it before mlContext.Model.Load.</summary>
    public static Func<BaseModelReference, string?>? Resolver { get; set; }

    /// <summary>The folder holding the referenced base, or a typed error naming what was expected.</summary>
    public static string Resolve(BaseModelReference reference)
    {
        string? mismatched = null;
        foreach (var candidate in Candidates(reference))
        {
            if (!Directory.Exists(candidate))
            {
                continue;
            }
            if (ModelFingerprint.OfFolder(candidate) == reference.Fingerprint)
            {
                return candidate;
            }
            mismatched ??= candidate;
        }
        if (mismatched is not null)
        {
            throw new BaseModelMismatchException(reference, mismatched);
        }
        throw new BaseModelNotFoundException(reference);
    }

    private static IEnumerable<string> Candidates(BaseModelReference reference)
    {
        if (reference.Path is { } recorded)
        {
            yield return recorded;
        }
        var name = reference.Path is null ? null : Path.GetFileName(Path.TrimEndingDirectorySeparator(reference.Path));
        foreach (var root in SearchPaths)
        {
            if (name is not null)
            {
                yield return Path.Combine(root, name);
            }
            if (Directory.Exists(root))
            {
                foreach (var sub in Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, "config.json"))))
                {
                    yield return sub;
                }
            }
        }
        if (Resolver?.Invoke(reference) is { } resolved)
        {
            yield return resolved;
        }
    }
}

/// <summary>The base model a saved fine-tuned model needs cannot be found.</summary>
public sealed class BaseModelNotFoundException(BaseModelReference reference)
    : FileNotFoundException(
        $"The base model of this LoRA model was not found. Expected a {reference.ModelType} model at '{reference.Path ?? "(in-memory model, not embedded)"}' " +
        $"with fingerprint {reference.Fingerprint}. Put it there, add its parent folder to BaseModelResolver.SearchPaths (or LORA_BASE_MODEL_PATH), or set BaseModelResolver.Resolver.",
        reference.Path)
{
    /// <summary>What the saved model refers to.</summary>
    public BaseModelReference Reference { get; } = reference;
}

/// <summary>A folder was found where the base model should be, but it holds a different or modified model.</summary>
public sealed class BaseModelMismatchException(BaseModelReference reference, string folder)
    : InvalidOperationException(
        $"The base model at '{folder}' differs from the one this LoRA model was trained on " +
        $"(fingerprint {ModelFingerprint.OfFolder(folder)}, expected {reference.Fingerprint}, model_type {reference.ModelType}). " +
        "Loading adapters onto a different base gives wrong results; restore the original base model.")
{
    /// <summary>What the saved model refers to.</summary>
    public BaseModelReference Reference { get; } = reference;

    /// <summary>The folder that did not match.</summary>
    public string Folder { get; } = folder;
}
