using Microsoft.ML.Data;

namespace Microsoft.ML.Lora.MLNet.Scoring;

/// <summary>
/// The lazy result of <see cref="LoraFineTuneTransformer.Transform"/>. Its cursor walks the input with two
/// cursors: one reads ahead the text of the next few batches of <c>ScoringBatchSize</c> rows and scores them
/// length-bucketed,
/// the other serves the pass-through columns of the current row. Nothing is scored unless an output column is read.
/// </summary>
internal sealed class LoraScoredDataView : IDataView
{
    private readonly LoraFineTuneTransformer _transformer;
    private readonly IDataView _input;

    public LoraScoredDataView(LoraFineTuneTransformer transformer, IDataView input)
    {
        _transformer = transformer;
        _input = input;
        Schema = transformer.GetOutputSchema(input.Schema);
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => false;

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    /// <summary>Batches read ahead and length-sorted together.</summary>
    private const int LengthBucketBatches = 8;

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly LoraScoredDataView _view;
        private readonly HashSet<int> _active;
        private readonly DataViewRowCursor _main;
        private readonly DataViewRowCursor? _lookahead;
        private readonly TextColumnReader? _reader;
        private readonly int _inputCount;
        private RowOutput[] _buffer = [];
        private long _bufferStart;
        private long _position = -1;

        public Cursor(LoraScoredDataView view, HashSet<int> active)
        {
            _view = view;
            _active = active;
            var input = view._input;
            _inputCount = input.Schema.Count;
            _main = input.GetRowCursor(input.Schema.Where(c => active.Contains(c.Index)));
            if (active.Any(i => i >= _inputCount))
            {
                var textColumns = TextColumnReader.Columns(view._transformer.Manifest).Select(n => input.Schema[n]);
                _lookahead = input.GetRowCursor(textColumns);
                _reader = new TextColumnReader(_lookahead, view._transformer.Manifest);
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
                FillBuffer();
            }
            return true;
        }

        private void FillBuffer()
        {
            _bufferStart = _position;
            var rows = new List<(string, string?)>();
            // Read several batches ahead: the scorer sorts them by length before batching, so each batch pads
            // to similar lengths (with one batch of read-ahead, padding to the batch's longest row cost more than
            // batching saved: 316 rows/s batched against 396 row by row on SMS messages, docs/performance.md).
            int size = Math.Max(1, _view._transformer.Manifest.ScoringBatchSize) * LengthBucketBatches;
            while (rows.Count < size && _lookahead!.MoveNext())
            {
                rows.Add(_reader!.Read());
            }
            _buffer = _view._transformer.ComputeOutputs(rows);
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => _main.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _inputCount)
            {
                return _main.GetGetter<TValue>(_main.Schema[column.Index]);
            }
            return OutputGetters.For<TValue>(column, _view._transformer.Manifest, () => _buffer[_position - _bufferStart]);
        }

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
