using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace BuildTools;

/// <summary>
/// Writes a compile-time-only copy of an assembly in which every internal type, method and field is
/// public. Only the visibility bits in the metadata tables change (in place, same size), so the copy
/// keeps the original identity. Used to compile against ML.NET's internal persistence API; at run time
/// the real assembly is used and <c>IgnoresAccessChecksToAttribute</c> lifts the access checks.
/// </summary>
internal static class Publicizer
{
    public static int Run(string input, string output)
    {
        var bytes = File.ReadAllBytes(input);
        int metadataStart;
        MetadataReader reader;
        using (var pe = new PEReader(new MemoryStream(bytes)))
        {
            metadataStart = pe.PEHeaders.MetadataStartOffset;
            reader = pe.GetMetadataReader();
            PatchTypes(reader, bytes, metadataStart);
            PatchMembers(reader, bytes, metadataStart, TableIndex.MethodDef, flagsColumnOffset: 6, reader.MethodDefinitions.Count);
            PatchMembers(reader, bytes, metadataStart, TableIndex.Field, flagsColumnOffset: 0, reader.FieldDefinitions.Count);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        var temp = output + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, output, overwrite: true);
        return 0;
    }

    private static void PatchTypes(MetadataReader reader, byte[] bytes, int metadataStart)
    {
        int table = metadataStart + reader.GetTableMetadataOffset(TableIndex.TypeDef);
        int rowSize = reader.GetTableRowSize(TableIndex.TypeDef);
        for (int row = 0; row < reader.TypeDefinitions.Count; row++)
        {
            int at = table + row * rowSize;
            var flags = (TypeAttributes)BitConverter.ToUInt32(bytes, at);
            var visibility = flags & TypeAttributes.VisibilityMask;
            var widened = visibility switch
            {
                TypeAttributes.NotPublic => TypeAttributes.Public,
                TypeAttributes.NestedAssembly or TypeAttributes.NestedFamANDAssem => TypeAttributes.NestedPublic,
                _ => visibility,
            };
            BitConverter.TryWriteBytes(bytes.AsSpan(at, 4), (uint)((flags & ~TypeAttributes.VisibilityMask) | widened));
        }
    }

    // Methods and fields share the access mask layout: 2 = FamANDAssem, 3 = Assembly, 6 = Public.
    // "protected internal" (5) is left alone so overrides in our code keep their natural modifiers.
    private static void PatchMembers(MetadataReader reader, byte[] bytes, int metadataStart, TableIndex index, int flagsColumnOffset, int rows)
    {
        int table = metadataStart + reader.GetTableMetadataOffset(index);
        int rowSize = reader.GetTableRowSize(index);
        for (int row = 0; row < rows; row++)
        {
            int at = table + row * rowSize + flagsColumnOffset;
            ushort flags = BitConverter.ToUInt16(bytes, at);
            int access = flags & 0x7;
            if (access is 2 or 3)
            {
                BitConverter.TryWriteBytes(bytes.AsSpan(at, 2), (ushort)((flags & ~0x7) | 6));
            }
        }
    }
}
