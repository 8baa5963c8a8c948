using System.Buffers.Binary;
using System.Text;

namespace BuildTools;

/// <summary>
/// The parts of a 64-bit little-endian ELF shared library that the TorchSharp patch edits: section headers, the
/// dynamic section and its string table, and every place that names a string in that table (so an edit can prove
/// that the bytes it overwrites are referenced by nothing else).
/// </summary>
internal sealed class ElfImage
{
    public const uint ShtDynamic = 6, ShtDynsym = 11, ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;
    public const long DtNull = 0, DtNeeded = 1, DtSoname = 14, DtRpath = 15, DtRunpath = 29;
    public const int DynamicEntrySize = 16;

    public readonly record struct Section(uint Type, long Offset, long Size, uint Link);

    public ElfImage(byte[] bytes)
    {
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F' || bytes[4] != 2 || bytes[5] != 1)
        {
            throw new InvalidDataException("not a 64-bit little-endian ELF file");
        }
        Bytes = bytes;
        long shoff = I64(0x28);
        int shentsize = U16(0x3A), shnum = U16(0x3C);
        Sections = Enumerable.Range(0, shnum).Select(i =>
        {
            int at = checked((int)(shoff + (long)i * shentsize));
            return new Section(U32(at + 4), I64(at + 0x18), I64(at + 0x20), U32(at + 0x28));
        }).ToList();
        Dynamic = Single(ShtDynamic);
        DynamicStrings = Sections[(int)Dynamic.Link];
    }

    public byte[] Bytes { get; }
    public IReadOnlyList<Section> Sections { get; }
    public Section Dynamic { get; }
    public Section DynamicStrings { get; }

    public Section Single(uint type) => Sections.Single(s => s.Type == type);
    public Section? Find(uint type) => Sections.Where(s => s.Type == type).Select(s => (Section?)s).FirstOrDefault();

    public ushort U16(long at) => BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(checked((int)at)));
    public uint U32(long at) => BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(checked((int)at)));
    public long I64(long at) => BinaryPrimitives.ReadInt64LittleEndian(Bytes.AsSpan(checked((int)at)));
    public void WriteU16(long at, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Bytes.AsSpan(checked((int)at)), value);
    public void WriteI64(long at, long value) => BinaryPrimitives.WriteInt64LittleEndian(Bytes.AsSpan(checked((int)at)), value);

    /// <summary>The NUL-terminated string at <paramref name="offset"/> of the dynamic string table.</summary>
    public string DynamicString(long offset)
    {
        int start = checked((int)(DynamicStrings.Offset + offset));
        int end = Array.IndexOf(Bytes, (byte)0, start);
        return Encoding.ASCII.GetString(Bytes, start, end - start);
    }

    /// <summary>The dynamic entries up to (not including) DT_NULL, and how many slots the section has in all.</summary>
    public (List<(long Tag, long Value)> Entries, int Slots) DynamicEntries()
    {
        int slots = (int)(Dynamic.Size / DynamicEntrySize);
        var entries = new List<(long, long)>();
        for (int i = 0; i < slots; i++)
        {
            long at = Dynamic.Offset + (long)i * DynamicEntrySize;
            long tag = I64(at);
            if (tag == DtNull)
            {
                break;
            }
            entries.Add((tag, I64(at + 8)));
        }
        return (entries, slots);
    }

    /// <summary>Rewrites the dynamic section with <paramref name="entries"/>, DT_NULL after them.</summary>
    public void WriteDynamicEntries(IReadOnlyList<(long Tag, long Value)> entries)
    {
        int slots = (int)(Dynamic.Size / DynamicEntrySize);
        if (entries.Count + 1 > slots)
        {
            throw new InvalidDataException($"the dynamic section has {slots} slots; {entries.Count + 1} are needed");
        }
        for (int i = 0; i < slots; i++)
        {
            long at = Dynamic.Offset + (long)i * DynamicEntrySize;
            var (tag, value) = i < entries.Count ? entries[i] : (DtNull, 0L);
            WriteI64(at, tag);
            WriteI64(at + 8, value);
        }
    }

    /// <summary>
    /// Every offset into the dynamic string table that something in the file names: string-valued dynamic
    /// entries, dynamic symbols, and version needs and definitions. (The linker may share a string's tail
    /// between names, so an edit must check every reference, not only the one it changes.)
    /// </summary>
    public IEnumerable<long> DynamicStringReferences()
    {
        foreach (var (tag, value) in DynamicEntries().Entries)
        {
            if (tag is DtNeeded or DtSoname or DtRpath or DtRunpath)
            {
                yield return value;
            }
        }
        foreach (var symbols in Sections.Where(s => s.Type == ShtDynsym && s.Link == Dynamic.Link))
        {
            for (long at = symbols.Offset; at < symbols.Offset + symbols.Size; at += 24)
            {
                yield return U32(at);
            }
        }
        if (Find(ShtGnuVerneed) is { } verneed)
        {
            for (long entry = verneed.Offset; ; entry += U32(entry + 12))
            {
                yield return U32(entry + 4);
                long aux = entry + U32(entry + 8);
                for (int i = 0, count = U16(entry + 2); i < count; i++, aux += U32(aux + 12))
                {
                    yield return U32(aux + 8);
                }
                if (U32(entry + 12) == 0)
                {
                    break;
                }
            }
        }
        if (Find(ShtGnuVerdef) is { } verdef)
        {
            for (long entry = verdef.Offset; ; entry += U32(entry + 16))
            {
                long aux = entry + U32(entry + 12);
                for (int i = 0, count = U16(entry + 6); i < count; i++, aux += U32(aux + 4))
                {
                    yield return U32(aux);
                }
                if (U32(entry + 16) == 0)
                {
                    break;
                }
            }
        }
    }
}
