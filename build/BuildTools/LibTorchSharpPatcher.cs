using System.Text;

namespace BuildTools;

/// <summary>
/// Rewrites a copy of libLibTorchSharp.so (already given the shim as DT_NEEDED by patchelf) so that
/// the dynamic loader accepts it on a libstdc++ without GLIBCXX_3.4.32:
/// the one symbol that needs that version, <c>std::ios_base_library_init()</c>, gets its version
/// cleared (so the shim's unversioned definition binds), and the GLIBCXX_3.4.32 entry in
/// .gnu.version_r is marked VER_FLG_WEAK so its absence is not fatal. Idempotent.
/// </summary>
internal static class LibTorchSharpPatcher
{
    private const string Symbol = "_ZSt21ios_base_library_initv";
    private const string Version = "GLIBCXX_3.4.32";
    private const uint ShtDynsym = 11, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;
    private const ushort VerFlgWeak = 0x2;

    private readonly record struct Section(uint Type, long Offset, long Size, uint Link);

    public static int Run(string library, string shimName)
    {
        var bytes = File.ReadAllBytes(library);
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[4] != 2 || bytes[5] != 1)
        {
            Console.Error.WriteLine($"error: {library} is not a 64-bit little-endian ELF file");
            return 1;
        }
        var sections = ReadSections(bytes);
        var dynsym = sections.Single(s => s.Type == ShtDynsym);
        var versym = sections.Single(s => s.Type == ShtGnuVersym);
        var verneed = sections.Single(s => s.Type == ShtGnuVerneed);

        int versionIndex = WeakenVersionNeed(bytes, verneed, sections[(int)verneed.Link]);
        int cleared = ClearSymbolVersions(bytes, dynsym, versym, sections[(int)dynsym.Link], versionIndex);
        if (cleared < 0)
        {
            return 1;
        }
        var temp = library + ".patching";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, library, overwrite: true);
        Console.WriteLine($"patched {Path.GetFileName(library)}: needs {shimName}, {Version} weak, {cleared} symbol version(s) cleared");
        return 0;
    }

    /// <summary>True when the shim is a DT_NEEDED entry and the version need is already weak.</summary>
    public static bool IsPatched(byte[] bytes, string shimName)
    {
        var sections = ReadSections(bytes);
        var verneed = sections.Single(s => s.Type == ShtGnuVerneed);
        var strtab = sections[(int)verneed.Link];
        return FindVernaux(bytes, verneed, strtab) is { } aux
            && (BitConverter.ToUInt16(bytes, (int)aux + 4) & VerFlgWeak) != 0
            && bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(shimName + "\0")) >= 0;
    }

    private static List<Section> ReadSections(byte[] b)
    {
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        var list = new List<Section>(shnum);
        for (int i = 0; i < shnum; i++)
        {
            int at = checked((int)(shoff + i * shentsize));
            list.Add(new Section(BitConverter.ToUInt32(b, at + 4), BitConverter.ToInt64(b, at + 0x18), BitConverter.ToInt64(b, at + 0x20), BitConverter.ToUInt32(b, at + 0x28)));
        }
        return list;
    }

    private static string ReadString(byte[] b, Section strtab, uint offset)
    {
        int start = checked((int)(strtab.Offset + offset));
        int end = Array.IndexOf(b, (byte)0, start);
        return Encoding.ASCII.GetString(b, start, end - start);
    }

    /// <summary>Marks the version need weak; returns its version index (0 when it is absent).</summary>
    private static int WeakenVersionNeed(byte[] b, Section verneed, Section strtab)
    {
        if (FindVernaux(b, verneed, strtab) is not { } aux)
        {
            return 0;
        }
        ushort flags = BitConverter.ToUInt16(b, (int)aux + 4);
        BitConverter.TryWriteBytes(b.AsSpan((int)aux + 4, 2), (ushort)(flags | VerFlgWeak));
        return BitConverter.ToUInt16(b, (int)aux + 6) & 0x7fff;
    }

    /// <summary>File offset of the Elf64_Vernaux entry naming GLIBCXX_3.4.32, or null.</summary>
    private static long? FindVernaux(byte[] b, Section verneed, Section strtab)
    {
        long entry = verneed.Offset;
        while (true)
        {
            int count = BitConverter.ToUInt16(b, (int)entry + 2);
            long aux = entry + BitConverter.ToUInt32(b, (int)entry + 8);
            for (int i = 0; i < count; i++)
            {
                if (ReadString(b, strtab, BitConverter.ToUInt32(b, (int)aux + 8)) == Version)
                {
                    return aux;
                }
                aux += BitConverter.ToUInt32(b, (int)aux + 12);
            }
            uint next = BitConverter.ToUInt32(b, (int)entry + 12);
            if (next == 0)
            {
                return null;
            }
            entry += next;
        }
    }

    private static int ClearSymbolVersions(byte[] b, Section dynsym, Section versym, Section strtab, int versionIndex)
    {
        if (versionIndex == 0)
        {
            return 0; // nothing requires the version: already patched or a different build
        }
        int cleared = 0;
        long count = dynsym.Size / 24;
        for (long i = 0; i < count; i++)
        {
            int slot = (int)(versym.Offset + 2 * i);
            if ((BitConverter.ToUInt16(b, slot) & 0x7fff) != versionIndex)
            {
                continue;
            }
            var name = ReadString(b, strtab, BitConverter.ToUInt32(b, (int)(dynsym.Offset + 24 * i)));
            if (name != Symbol)
            {
                Console.Error.WriteLine($"error: libLibTorchSharp.so needs {name}@{Version}; the shim only provides {Symbol}");
                return -1;
            }
            BitConverter.TryWriteBytes(b.AsSpan(slot, 2), (ushort)1); // VER_NDX_GLOBAL
            cleared++;
        }
        return cleared;
    }
}
