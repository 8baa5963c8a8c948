using System.Text;

namespace BuildTools;

/// <summary>
/// Edits libLibTorchSharp.so (TorchSharp 0.107) in memory so that the dynamic loader accepts it on a libstdc++
/// without GLIBCXX_3.4.32, with no external tool:
/// <list type="number">
/// <item>the shim library (which defines <c>std::ios_base_library_init()</c>) becomes its first DT_NEEDED entry: the
/// dynamic section has unused DT_NULL slots to shift into, and the name is written into the dynamic string table
/// where the RUNPATH's build-machine folders were (the RUNPATH keeps its first folder, <c>$ORIGIN/</c>, which is
/// where the shim sits);</item>
/// <item>the one symbol that needs GLIBCXX_3.4.32 gets its version cleared, so the shim's definition binds;</item>
/// <item>the GLIBCXX_3.4.32 version need is marked VER_FLG_WEAK, so its absence is not fatal.</item>
/// </list>
/// On a libstdc++ that has the version the patched library loads just as well (both definitions do the same), so
/// the build patches whatever system it runs on and its output runs on both. Idempotent.
/// </summary>
internal static class LibTorchSharpPatcher
{
    public const string Symbol = "_ZSt21ios_base_library_initv";
    public const string Version = "GLIBCXX_3.4.32";
    private const ushort VerFlgWeak = 0x2;

    /// <summary>Patches <paramref name="bytes"/> in place; returns what it did, or throws <see cref="InvalidDataException"/>.</summary>
    public static string Patch(byte[] bytes, string shimName)
    {
        var elf = new ElfImage(bytes);
        bool added = AddNeeded(elf, shimName);
        int versionIndex = WeakenVersionNeed(elf);
        int cleared = ClearSymbolVersions(elf, versionIndex);
        return $"{(added ? $"needs {shimName}" : $"already needed {shimName}")}, {Version} weak, {cleared} symbol version(s) cleared";
    }

    /// <summary>True when the shim is a DT_NEEDED entry and no symbol still needs GLIBCXX_3.4.32.</summary>
    public static bool IsPatched(byte[] bytes, string shimName)
    {
        var elf = new ElfImage(bytes);
        return Needs(elf, shimName) && (FindVernaux(elf) is not { } aux || (elf.U16(aux + 4) & VerFlgWeak) != 0);
    }

    private static bool Needs(ElfImage elf, string name) =>
        elf.DynamicEntries().Entries.Any(e => e.Tag == ElfImage.DtNeeded && elf.DynamicString(e.Value) == name);

    private static bool AddNeeded(ElfImage elf, string shimName)
    {
        if (Needs(elf, shimName))
        {
            return false;
        }
        var (entries, slots) = elf.DynamicEntries();
        if (entries.Count + 2 > slots)
        {
            throw new InvalidDataException($"its dynamic section has no free slot for a DT_NEEDED entry ({entries.Count} of {slots} used)");
        }
        int runpathIndex = entries.FindIndex(e => e.Tag is ElfImage.DtRunpath or ElfImage.DtRpath);
        if (runpathIndex < 0)
        {
            throw new InvalidDataException("it has no RUNPATH whose string could hold the shim's name");
        }
        long runpath = entries[runpathIndex].Value;
        string path = elf.DynamicString(runpath);
        string kept = path.Split(':')[0];
        if (kept != "$ORIGIN" && kept != "$ORIGIN/")
        {
            throw new InvalidDataException($"its RUNPATH '{path}' does not start with $ORIGIN, where the shim is placed");
        }
        // The new string goes after the kept folder's terminating NUL and must end inside the old string.
        long nameAt = runpath + kept.Length + 1;
        long end = nameAt + shimName.Length + 1;
        if (end > runpath + path.Length + 1)
        {
            throw new InvalidDataException($"its RUNPATH string is too short ({path.Length} bytes) to hold '{shimName}'");
        }
        foreach (var reference in elf.DynamicStringReferences().Where(r => r != runpath))
        {
            long referenceEnd = reference + Encoding.ASCII.GetByteCount(elf.DynamicString(reference)) + 1;
            if (reference < end && referenceEnd > runpath + kept.Length)
            {
                throw new InvalidDataException($"another name shares the RUNPATH's bytes (string offset {reference})");
            }
        }
        var strings = elf.Bytes.AsSpan(checked((int)elf.DynamicStrings.Offset));
        strings[(int)(runpath + kept.Length)] = 0;
        Encoding.ASCII.GetBytes(shimName).CopyTo(strings[(int)nameAt..]);
        strings[(int)(nameAt + shimName.Length)] = 0;
        entries.Insert(0, (ElfImage.DtNeeded, nameAt));
        elf.WriteDynamicEntries(entries);
        return true;
    }

    /// <summary>Marks the GLIBCXX_3.4.32 need weak; returns its version index (0 when it is absent).</summary>
    private static int WeakenVersionNeed(ElfImage elf)
    {
        if (FindVernaux(elf) is not { } aux)
        {
            return 0;
        }
        elf.WriteU16(aux + 4, (ushort)(elf.U16(aux + 4) | VerFlgWeak));
        return elf.U16(aux + 6) & 0x7fff;
    }

    /// <summary>File offset of the Elf64_Vernaux entry naming GLIBCXX_3.4.32, or null.</summary>
    private static long? FindVernaux(ElfImage elf)
    {
        if (elf.Find(ElfImage.ShtGnuVerneed) is not { } verneed)
        {
            return null;
        }
        for (long entry = verneed.Offset; ; entry += elf.U32(entry + 12))
        {
            long aux = entry + elf.U32(entry + 8);
            for (int i = 0, count = elf.U16(entry + 2); i < count; i++, aux += elf.U32(aux + 12))
            {
                if (elf.DynamicString(elf.U32(aux + 8)) == Version)
                {
                    return aux;
                }
            }
            if (elf.U32(entry + 12) == 0)
            {
                return null;
            }
        }
    }

    private static int ClearSymbolVersions(ElfImage elf, int versionIndex)
    {
        if (versionIndex == 0)
        {
            return 0; // nothing requires the version: already patched or a different build
        }
        var dynsym = elf.Single(ElfImage.ShtDynsym);
        var versym = elf.Single(ElfImage.ShtGnuVersym);
        int cleared = 0;
        for (long i = 0, count = dynsym.Size / 24; i < count; i++)
        {
            long slot = versym.Offset + 2 * i;
            if ((elf.U16(slot) & 0x7fff) != versionIndex)
            {
                continue;
            }
            var name = elf.DynamicString(elf.U32(dynsym.Offset + 24 * i));
            if (name != Symbol)
            {
                throw new InvalidDataException($"it needs {name}@{Version}; the shim only provides {Symbol}");
            }
            elf.WriteU16(slot, 1); // VER_NDX_GLOBAL
            cleared++;
        }
        return cleared;
    }
}
