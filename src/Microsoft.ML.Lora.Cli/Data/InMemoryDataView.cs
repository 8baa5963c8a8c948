using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlLora.Cli.Data;

/// <summary>A small in-memory IDataView of named columns holding text, Boolean or Single values.</summary>
public sealed class InMemoryDataView : IDataView
{
    private readonly Array[] _columns;
    private readonly int _rows;

    /// <summary>Creates the view; every array must have the same length.</summary>
    public InMemoryDataView(IReadOnlyList<(string Name, Array Values)> columns)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var (name, values) in columns)
        {
            builder.AddColumn(name, values switch
            {
                string[] => TextDataViewType.Instance,
                bool[] => BooleanDataViewType.Instance,
                float[] => NumberDataViewType.Single,
                _ => throw new ArgumentException($"Column '{name}' has an unsupported element type {values.GetType().GetElementType()}."),
            });
        }
        Schema = builder.ToSchema();
        _columns = columns.Select(c => c.Values).ToArray();
        _rows = _columns.Length == 0 ? 0 : _columns[0].Length;
    }

    /// <inheritdoc />
    public DataViewSchema Schema { get; }
    /// <inheritdoc />
    public bool CanShuffle => false;
    /// <inheritdoc />
    public long? GetRowCount() => _rows;
    /// <inheritdoc />
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);
    /// <inheritdoc />
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(this)];

    private sealed class Cursor(InMemoryDataView view) : DataViewRowCursor
    {
        private long _position = -1;
        public override DataViewSchema Schema => view.Schema;
        public override long Position => _position;
        public override long Batch => 0;
        public override bool MoveNext() => ++_position < view._rows;
        public override bool IsColumnActive(DataViewSchema.Column column) => true;
        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            Delegate getter = view._columns[column.Index] switch
            {
                string[] s => (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> v) => v = s[_position].AsMemory()),
                bool[] b => (ValueGetter<bool>)((ref bool v) => v = b[_position]),
                float[] f => (ValueGetter<float>)((ref float v) => v = f[_position]),
                _ => throw new InvalidOperationException(),
            };
            return getter as ValueGetter<TValue> ?? throw new InvalidOperationException($"Column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}.");
        }
    }
}
