using Microsoft.ML.Data;

namespace Microsoft.ML.Lora.MLNet.Scoring;

/// <summary>
/// Row-at-a-time mapping for <c>PredictionEngine</c>: the tokenizer and model are reused across calls;
/// each row is scored once per position, on first read of an output column.
/// </summary>
internal sealed class LoraRowMapper : IRowToRowMapper
{
    private readonly LoraFineTuneTransformer _transformer;

    public LoraRowMapper(LoraFineTuneTransformer transformer, DataViewSchema inputSchema)
    {
        _transformer = transformer;
        InputSchema = inputSchema;
        OutputSchema = transformer.GetOutputSchema(inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var needed = dependingColumns.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
        if (dependingColumns.Any(c => c.Index >= InputSchema.Count))
        {
            needed.AddRange(TextColumnReader.Columns(_transformer.Manifest).Select(n => InputSchema[n]));
        }
        return needed.DistinctBy(c => c.Index);
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new MappedRow(this, input, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class MappedRow(LoraRowMapper mapper, DataViewRow input, HashSet<int> active) : DataViewRow
    {
        private TextColumnReader? _reader;
        private long _scoredPosition = -1;
        private RowOutput _output;

        public override DataViewSchema Schema => mapper.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < mapper.InputSchema.Count)
            {
                return input.GetGetter<TValue>(input.Schema[column.Index]);
            }
            return OutputGetters.For<TValue>(column, mapper._transformer.Manifest, Current);
        }

        private RowOutput Current()
        {
            if (_scoredPosition != input.Position || _scoredPosition < 0)
            {
                _reader ??= new TextColumnReader(input, mapper._transformer.Manifest);
                _output = mapper._transformer.ComputeOutputs([_reader.Read()])[0];
                _scoredPosition = input.Position;
            }
            return _output;
        }
    }
}
