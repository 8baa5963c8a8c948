using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet.Persistence;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// Multi-adapter serving: one loaded base, several fine-tuned adapters of the same task, and an input column
/// naming, per row, which adapter scores it. Rows are grouped by adapter and each group is scored in batches
/// on the shared base (switching adapters never copies or reloads base weights). Build it from transformers
/// trained on one <see cref="LoraBaseModel"/> (<see cref="LoraFineTuneOptions.BaseModel"/>).
/// </summary>
public sealed class LoraAdapterRouter : ITransformer
{
    private readonly IReadOnlyDictionary<string, LoraFineTuneTransformer> _routes;
    private readonly LoraFineTuneTransformer _first;

    /// <summary>Creates a router; every transformer must have the same task and outputs.</summary>
    /// <param name="adapterColumnName">The text column holding each row's route name.</param>
    /// <param name="routes">Route name → fine-tuned transformer.</param>
    public LoraAdapterRouter(string adapterColumnName, IReadOnlyDictionary<string, LoraFineTuneTransformer> routes)
    {
        ArgumentException.ThrowIfNullOrEmpty(adapterColumnName);
        ArgumentNullException.ThrowIfNull(routes);
        if (routes.Count == 0)
        {
            throw new ArgumentException("The router needs at least one adapter.", nameof(routes));
        }
        _first = routes.Values.First();
        foreach (var (name, t) in routes)
        {
            if (t.Task != _first.Task || t.Manifest.Labels != _first.Manifest.Labels || t.Manifest.TextColumn != _first.Manifest.TextColumn || t.Manifest.Text2Column != _first.Manifest.Text2Column)
            {
                throw new ArgumentException($"Route '{name}' is a {t.Task} model reading '{t.Manifest.TextColumn}'; every route must match '{routes.Keys.First()}' ({_first.Task}, '{_first.Manifest.TextColumn}').", nameof(routes));
            }
        }
        AdapterColumnName = adapterColumnName;
        _routes = routes;
    }

    /// <summary>The column naming each row's adapter.</summary>
    public string AdapterColumnName { get; }

    /// <inheritdoc />
    public bool IsRowToRowMapper => false;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        var column = inputSchema.GetColumnOrNull(AdapterColumnName) ?? throw LoraSchemaException.Missing(AdapterColumnName, "text (adapter name)", inputSchema);
        if (column.Type is not TextDataViewType)
        {
            throw LoraSchemaException.WrongType(AdapterColumnName, "text (adapter name)", column.Type);
        }
        return _first.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) =>
        throw new NotSupportedException("LoraAdapterRouter scores whole data views (Transform); for single rows use the PredictionEngine of the adapter's own transformer.");

    /// <summary>Routers are not saved: save each adapter's model and rebuild the router after loading them.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        throw new NotSupportedException("A LoraAdapterRouter is not saved itself: save each route's LoraFineTuneTransformer and build the router again after loading them onto one base.");

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        var schema = GetOutputSchema(input.Schema);
        var routeColumn = input.Schema[AdapterColumnName];
        var rows = new List<(string Route, string Text, string? Text2)>();
        var textColumns = Scoring.TextColumnReader.Columns(_first.Manifest).Select(n => input.Schema[n]).Append(routeColumn);
        using (var cursor = input.GetRowCursor(textColumns))
        {
            var reader = new Scoring.TextColumnReader(cursor, _first.Manifest);
            var getRoute = cursor.GetGetter<ReadOnlyMemory<char>>(routeColumn);
            ReadOnlyMemory<char> route = default;
            while (cursor.MoveNext())
            {
                getRoute(ref route);
                var (text, text2) = reader.Read();
                rows.Add((route.ToString(), text, text2));
            }
        }
        var outputs = new Scoring.RowOutput[rows.Count];
        foreach (var group in rows.Select((r, i) => (r, i)).GroupBy(x => x.r.Route))
        {
            if (!_routes.TryGetValue(group.Key, out var transformer))
            {
                throw new ArgumentException($"Row {group.First().i} names adapter '{group.Key}' in column '{AdapterColumnName}', which is not one of: {string.Join(", ", _routes.Keys)}.");
            }
            var scored = transformer.ComputeOutputs(group.Select(x => (x.r.Text, x.r.Text2)).ToList());
            int k = 0;
            foreach (var (_, index) in group)
            {
                outputs[index] = scored[k++];
            }
        }
        return new Scoring.PrecomputedOutputDataView(input, schema, _first.Manifest, outputs);
    }
}
