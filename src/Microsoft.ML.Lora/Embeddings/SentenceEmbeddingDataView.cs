using Microsoft.ML.Data;

namespace Microsoft.ML.Lora.Embeddings;

/// <summary>
/// The lazy result of <see cref="SentenceEmbeddingTransformer.Transform"/>: one cursor reads the text of the next
/// batch ahead and embeds it at once, the other serves the input columns of the current row. Nothing is embedded
/// unless the output column is read.
/// </summary>
internal sealed class SentenceEmbeddingDataView(SentenceEmbeddingTransformer transformer, IDataView input) : IDataView
{
    private const int ReadAhead = 64;

    public SentenceEmbeddingTransformer Transformer => transformer;

    public IDataView Input => input;

    public DataViewSchema Schema { get; } = transformer.GetOutputSchema(input.Schema);

    public bool CanShuffle => false;

    public long? GetRowCount() => input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly SentenceEmbeddingDataView _view;
        private readonly HashSet<int> _active;
        private readonly DataViewRowCursor _main;
        private readonly DataViewRowCursor? _lookahead;
        private readonly ValueGetter<ReadOnlyMemory<char>>? _text;
        private float[][] _buffer = [];
        private long _bufferStart;
        private long _position = -1;

        public Cursor(SentenceEmbeddingDataView view, HashSet<int> active)
        {
            _view = view;
            _active = active;
            var schema = view.Schema;
            var input = view.Input;
            _main = input.GetRowCursor(input.Schema.Where(c => active.Contains(c.Index)));
            if (active.Contains(schema.Count - 1))
            {
                var textColumn = input.Schema[view.Transformer.Settings.InputColumn];
                _lookahead = input.GetRowCursor([textColumn]);
                _text = _lookahead.GetGetter<ReadOnlyMemory<char>>(textColumn);
            }
        }

        public override DataViewSchema Schema => _view.Schema;
        public override long Position => _position;
        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (!_main.MoveNext())
            {
                return false;
            }
            _position++;
            if (_lookahead is not null && _position >= _bufferStart + _buffer.Length)
            {
                _bufferStart = _position;
                var texts = new List<string>();
                ReadOnlyMemory<char> text = default;
                while (texts.Count < ReadAhead && _lookahead.MoveNext())
                {
                    _text!(ref text);
                    texts.Add(text.ToString());
                }
                _buffer = _view.Transformer.Embed(texts);
            }
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => _main.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
            column.Index < _view.Schema.Count - 1
                ? _main.GetGetter<TValue>(_main.Schema[column.Index])
                : VectorGetter.For<TValue>(column, () => _buffer[_position - _bufferStart]);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _main.Dispose();
                _lookahead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>Row-at-a-time mapping for <c>PredictionEngine</c>: each row is embedded once, on first read of the vector.</summary>
internal sealed class SentenceEmbeddingRowMapper(SentenceEmbeddingTransformer transformer, DataViewSchema inputSchema) : IRowToRowMapper
{
    public SentenceEmbeddingTransformer Transformer => transformer;

    public DataViewSchema InputSchema { get; } = inputSchema;

    public DataViewSchema OutputSchema { get; } = transformer.GetOutputSchema(inputSchema);

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var needed = dependingColumns.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
        if (dependingColumns.Any(c => c.Index >= InputSchema.Count))
        {
            needed.Add(InputSchema[transformer.Settings.InputColumn]);
        }
        return needed.DistinctBy(c => c.Index);
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new MappedRow(this, input, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class MappedRow(SentenceEmbeddingRowMapper mapper, DataViewRow input, HashSet<int> active) : DataViewRow
    {
        private long _embeddedPosition = -1;
        private float[] _vector = [];

        public override DataViewSchema Schema => mapper.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
            column.Index < mapper.InputSchema.Count ? input.GetGetter<TValue>(input.Schema[column.Index]) : VectorGetter.For<TValue>(column, Current);

        private float[] Current()
        {
            if (_embeddedPosition != input.Position || _embeddedPosition < 0)
            {
                ReadOnlyMemory<char> text = default;
                input.GetGetter<ReadOnlyMemory<char>>(input.Schema[mapper.Transformer.Settings.InputColumn])(ref text);
                _vector = mapper.Transformer.Embed([text.ToString()])[0];
                _embeddedPosition = input.Position;
            }
            return _vector;
        }
    }
}

/// <summary>The getter of the embedding column.</summary>
internal static class VectorGetter
{
    public static ValueGetter<TValue> For<TValue>(DataViewSchema.Column column, Func<float[]> current)
    {
        ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
        {
            var vector = current();
            var editor = VBufferEditor.Create(ref value, vector.Length);
            vector.CopyTo(editor.Values);
            value = editor.Commit();
        };
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Column '{column.Name}' is a vector of Single; a getter of {typeof(TValue).Name} was requested.");
    }
}
