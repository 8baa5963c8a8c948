namespace Microsoft.ML.Lora.Tokenization;

/// <summary>SentencePiece piece types (sentencepiece_model.proto ModelProto.SentencePiece.Type).</summary>
internal enum SentencePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>One piece of a SentencePiece vocabulary; its index is its id.</summary>
/// <param name="Piece">The piece text, with '▁' for spaces.</param>
/// <param name="Score">Its score: BPE merges the pair whose merged piece scores highest.</param>
/// <param name="Type">Its type.</param>
internal sealed record SentencePieceEntry(string Piece, float Score, SentencePieceType Type);

/// <summary>
/// Reads and writes the parts of a SentencePiece ModelProto (tokenizer.model) this library uses:
/// pieces with scores and types, the trainer's model type and byte fallback, the normalizer flags.
/// </summary>
internal static class SentencePieceModelFile
{
    public const int UnigramModel = 1;
    public const int BpeModel = 2;

    // ModelProto fields.
    private const int PiecesField = 1;
    private const int TrainerSpecField = 2;
    private const int NormalizerSpecField = 3;

    // TrainerSpec fields.
    private const int ModelTypeField = 3;
    private const int VocabSizeField = 4;
    private const int SplitDigitsField = 25;
    private const int ByteFallbackField = 35;
    private const int UnkIdField = 40;
    private const int BosIdField = 41;
    private const int EosIdField = 42;
    private const int PadIdField = 43;

    // NormalizerSpec fields.
    private const int NameField = 1;
    private const int AddDummyPrefixField = 3;
    private const int RemoveExtraWhitespacesField = 4;
    private const int EscapeWhitespacesField = 5;

    /// <summary>
    /// The pieces and the trainer's model type (proto default: Unigram). A model without pieces, trainer
    /// spec or normalizer spec is rejected here (Microsoft.ML.Tokenizers dereferences them unchecked).
    /// </summary>
    public static (List<SentencePieceEntry> Pieces, int ModelType) Read(byte[] model, string source)
    {
        List<ProtobufWire.Field> fields;
        try
        {
            fields = ProtobufWire.ReadFields(model);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidTokenizerException(source, $"not a SentencePiece model: {e.Message}", e);
        }
        foreach (var (number, part) in new[] { (PiecesField, "pieces"), (TrainerSpecField, "trainer_spec"), (NormalizerSpecField, "normalizer_spec") })
        {
            if (!fields.Any(f => f.Number == number && f.WireType == ProtobufWire.LengthDelimited))
            {
                throw new InvalidTokenizerException(source, $"not a SentencePiece model: it has no {part}.");
            }
        }
        try
        {
            var pieces = new List<SentencePieceEntry>();
            var modelType = UnigramModel;
            foreach (var field in fields)
            {
                if (field is { Number: PiecesField, WireType: ProtobufWire.LengthDelimited })
                {
                    pieces.Add(ReadPiece(field.Payload));
                }
                else if (field is { Number: TrainerSpecField, WireType: ProtobufWire.LengthDelimited })
                {
                    foreach (var spec in ProtobufWire.ReadFields(field.Payload))
                    {
                        if (spec is { Number: ModelTypeField, WireType: ProtobufWire.Varint })
                        {
                            modelType = (int)spec.Varint;
                        }
                    }
                }
            }
            if (modelType is not (UnigramModel or BpeModel))
            {
                throw new InvalidTokenizerException(source, $"SentencePiece model type {modelType} is not supported (supported: 1 Unigram, 2 BPE).");
            }
            return (pieces, modelType);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidTokenizerException(source, $"not a SentencePiece model: {e.Message}", e);
        }
    }

    private static SentencePieceEntry ReadPiece(ReadOnlyMemory<byte> message)
    {
        string piece = "";
        float score = 0;
        var type = SentencePieceType.Normal;
        foreach (var field in ProtobufWire.ReadFields(message))
        {
            switch (field.Number)
            {
                case 1 when field.WireType == ProtobufWire.LengthDelimited:
                    piece = field.AsString();
                    break;
                case 2 when field.WireType == ProtobufWire.Fixed32:
                    score = field.AsFloat();
                    break;
                case 3 when field.WireType == ProtobufWire.Varint:
                    type = (SentencePieceType)field.Varint;
                    break;
            }
        }
        return new SentencePieceEntry(piece, score, type);
    }

    /// <summary>
    /// A BPE model with byte fallback and Llama's normalizer settings (identity rules, a dummy prefix,
    /// spaces escaped as '▁', extra spaces kept): what llama2.c's tokenizers were trained with.
    /// </summary>
    public static byte[] WriteBpe(IReadOnlyList<SentencePieceEntry> pieces, int unkId, int bosId, int eosId)
    {
        var model = new ProtobufWire.Writer();
        foreach (var entry in pieces)
        {
            var piece = new ProtobufWire.Writer();
            piece.WriteString(1, entry.Piece);
            piece.WriteFloat(2, entry.Score);
            piece.WriteVarint(3, (int)entry.Type);
            model.WriteBytes(PiecesField, piece.ToArray());
        }
        var trainer = new ProtobufWire.Writer();
        trainer.WriteVarint(ModelTypeField, BpeModel);
        trainer.WriteVarint(VocabSizeField, pieces.Count);
        trainer.WriteBool(SplitDigitsField, true);
        trainer.WriteBool(ByteFallbackField, true);
        trainer.WriteVarint(UnkIdField, unkId);
        trainer.WriteVarint(BosIdField, bosId);
        trainer.WriteVarint(EosIdField, eosId);
        trainer.WriteVarint(PadIdField, -1);
        model.WriteBytes(TrainerSpecField, trainer.ToArray());
        var normalizer = new ProtobufWire.Writer();
        normalizer.WriteString(NameField, "identity");
        normalizer.WriteBool(AddDummyPrefixField, true);
        normalizer.WriteBool(RemoveExtraWhitespacesField, false);
        normalizer.WriteBool(EscapeWhitespacesField, true);
        model.WriteBytes(NormalizerSpecField, normalizer.ToArray());
        return model.ToArray();
    }
}
