using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet.Persistence;

namespace Microsoft.ML.Lora.MLNet.Scoring;

/// <summary>The input rows with already computed model outputs appended (row i of the input ↔ outputs[i]).</summary>
internal sealed class PrecomputedOutputDataView : IDataView
{
    private readonly IDataView _input;
    private readonly LoraModelManifest _manifest;
    private readonly RowOutput[] _outputs;

    public PrecomputedOutputDataView(IDataView input, DataViewSchema schema, LoraModelManifest manifest, RowOutput[] outputs)
    {
        _input = input;
        Schema = schema;
        _manifest = manifest;
        _outputs = outputs;
    }

    public DataViewSchema Schema { get; }
    public bool CanShuffle => false;
    public long? GetRowCount() => _outputs.Length;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet());

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly PrecomputedOutputDataView _view;
        private readonly HashSet<int> _active;
        private readonly DataViewRowCursor _input;
        private long _position = -1;

        public Cursor(PrecomputedOutputDataView view, HashSet<int> active)
        {
            _view = view;
            _active = active;
            _input = view._input.GetRowCursor(view._input.Schema.Where(c => active.Contains(c.Index)));
        }

        public override DataViewSchema Schema => _view.Schema;
        public override long Position => _position;
        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (!_input.MoveNext())
            {
                return false;
            }
            _position++;
            return true;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) =>
            column.Index < _view._input.Schema.Count
                ? _input.GetGetter<TValue>(_input.Schema[column.Index])
                : OutputGetters.For<TValue>(column, _view._manifest, () => _view._outputs[_position]);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _input.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
