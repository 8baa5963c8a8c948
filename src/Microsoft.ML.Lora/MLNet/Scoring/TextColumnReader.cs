using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet.Scoring;

/// <summary>Reads the text column(s) a model scores from a row, and checks they exist and hold text.</summary>
internal sealed class TextColumnReader
{
    private readonly ValueGetter<ReadOnlyMemory<char>> _text;
    private readonly ValueGetter<ReadOnlyMemory<char>>? _text2;
    private ReadOnlyMemory<char> _buffer;

    public TextColumnReader(DataViewRow row, LoraModelManifest manifest)
    {
        _text = row.GetGetter<ReadOnlyMemory<char>>(row.Schema[InputColumn(manifest)]);
        _text2 = manifest.Text2Column is { } c2 ? row.GetGetter<ReadOnlyMemory<char>>(row.Schema[c2]) : null;
    }

    /// <summary>The column whose text the model reads (the prompt column for instruction-tuned models).</summary>
    public static string InputColumn(LoraModelManifest manifest) =>
        manifest.Task == LoraTask.CausalLanguageModel ? manifest.MessagesColumn ?? manifest.PromptColumn ?? manifest.TextColumn : manifest.TextColumn;

    /// <summary>The input columns scoring needs.</summary>
    public static IEnumerable<string> Columns(LoraModelManifest manifest) =>
        manifest.Text2Column is { } c2 ? [InputColumn(manifest), c2] : [InputColumn(manifest)];

    /// <summary>Throws a <see cref="LoraSchemaException"/> when a needed column is missing or not text.</summary>
    public static void Check(DataViewSchema schema, LoraModelManifest manifest)
    {
        foreach (var name in Columns(manifest))
        {
            var column = schema.GetColumnOrNull(name) ?? throw LoraSchemaException.Missing(name, "text", schema);
            if (column.Type is not TextDataViewType)
            {
                throw LoraSchemaException.WrongType(name, "text", column.Type);
            }
        }
    }

    public (string Text, string? Text2) Read()
    {
        _text(ref _buffer);
        var text = _buffer.ToString();
        string? text2 = null;
        if (_text2 is not null)
        {
            _text2(ref _buffer);
            text2 = _buffer.ToString();
        }
        return (text, text2);
    }
}
