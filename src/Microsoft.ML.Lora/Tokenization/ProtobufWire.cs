using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// The few protobuf wire-format operations a SentencePiece model file needs: reading fields
/// (varint, 32-bit, length-delimited; others skipped) and writing them. Microsoft.ML.Tokenizers
/// parses the same files but exposes neither the piece scores nor a writer.
/// </summary>
internal static class ProtobufWire
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int LengthDelimited = 2;
    public const int Fixed32 = 5;

    /// <summary>One field of a message: its number, wire type, and value (varint, or the bytes of the payload).</summary>
    public readonly record struct Field(int Number, int WireType, ulong Varint, ReadOnlyMemory<byte> Payload)
    {
        public string AsString() => Encoding.UTF8.GetString(Payload.Span);

        public float AsFloat() => BinaryPrimitives.ReadSingleLittleEndian(Payload.Span);
    }

    /// <summary>The fields of one message, in order; malformed input throws <see cref="InvalidDataException"/>.</summary>
    public static List<Field> ReadFields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<Field>();
        var span = message.Span;
        var position = 0;
        while (position < span.Length)
        {
            var key = ReadVarint(span, ref position);
            var number = (int)(key >> 3);
            var wireType = (int)(key & 7);
            if (number <= 0)
            {
                throw new InvalidDataException($"invalid protobuf field number {number} at byte {position}.");
            }
            switch (wireType)
            {
                case Varint:
                    fields.Add(new Field(number, wireType, ReadVarint(span, ref position), default));
                    break;
                case Fixed64:
                case Fixed32:
                    var size = wireType == Fixed32 ? 4 : 8;
                    fields.Add(new Field(number, wireType, 0, Slice(message, ref position, size)));
                    break;
                case LengthDelimited:
                    var length = ReadVarint(span, ref position);
                    if (length > int.MaxValue)
                    {
                        throw new InvalidDataException($"protobuf field {number} claims {length} bytes.");
                    }
                    fields.Add(new Field(number, wireType, 0, Slice(message, ref position, (int)length)));
                    break;
                default:
                    throw new InvalidDataException($"unsupported protobuf wire type {wireType} (field {number}).");
            }
        }
        return fields;
    }

    private static ReadOnlyMemory<byte> Slice(ReadOnlyMemory<byte> message, ref int position, int length)
    {
        if (length < 0 || length > message.Length - position)
        {
            throw new InvalidDataException($"protobuf field of {length} bytes runs past the end at byte {position}.");
        }
        var slice = message.Slice(position, length);
        position += length;
        return slice;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (position >= span.Length)
            {
                throw new InvalidDataException("truncated protobuf varint.");
            }
            var b = span[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
        throw new InvalidDataException("protobuf varint longer than 10 bytes.");
    }

    /// <summary>Appends protobuf fields to a buffer.</summary>
    public sealed class Writer
    {
        private readonly MemoryStream _buffer = new();

        public byte[] ToArray() => _buffer.ToArray();

        public void WriteVarint(int number, long value)
        {
            WriteKey(number, Varint);
            WriteRawVarint((ulong)value);
        }

        public void WriteBool(int number, bool value) => WriteVarint(number, value ? 1 : 0);

        public void WriteFloat(int number, float value)
        {
            WriteKey(number, Fixed32);
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
            _buffer.Write(bytes);
        }

        public void WriteString(int number, string value) => WriteBytes(number, Encoding.UTF8.GetBytes(value));

        public void WriteBytes(int number, byte[] value)
        {
            WriteKey(number, LengthDelimited);
            WriteRawVarint((ulong)value.Length);
            _buffer.Write(value);
        }

        private void WriteKey(int number, int wireType) => WriteRawVarint(((ulong)number << 3) | (uint)wireType);

        private void WriteRawVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _buffer.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _buffer.WriteByte((byte)value);
        }
    }
}
