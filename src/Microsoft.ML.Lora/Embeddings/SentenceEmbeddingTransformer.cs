using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Lora.Embeddings;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Runtime;

[assembly: LoadableClass(typeof(SentenceEmbeddingTransformer), null, typeof(SignatureLoadModel),
    "LoRA Sentence Embedding", SentenceEmbeddingTransformer.LoaderSignature)]

namespace Microsoft.ML.Lora.Embeddings;

/// <summary>
/// Adds a sentence-embedding column (vector of Single, the model's width) computed from a text column in
/// batches. Saved by <c>mlContext.Model.Save</c> as a reference to its model (folder or zip path) and its
/// settings, like a LoRA model's reference to its base; loading opens the model again. Dispose it to free the model.
/// </summary>
public sealed class SentenceEmbeddingTransformer : ITransformer, ICanSaveModel, IDisposable
{
    /// <summary>The ML.NET loader signature.</summary>
    public const string LoaderSignature = "LoraSentenceEmbedding";

    private readonly SentenceEmbedder _embedder;
    private bool _disposed;

    internal SentenceEmbeddingTransformer(IHostEnvironment env, SentenceEmbeddingSettings settings, SentenceEmbedder embedder)
    {
        Host = env.Register(nameof(SentenceEmbeddingTransformer));
        Settings = settings;
        _embedder = embedder;
    }

    internal IHost Host { get; }

    internal SentenceEmbeddingSettings Settings { get; }

    /// <summary>The length of each vector.</summary>
    public int Dimension => _embedder.Dimension;

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckInput(inputSchema, Settings.InputColumn);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(Settings.OutputColumn, new VectorDataViewType(NumberDataViewType.Single, Dimension));
        return builder.ToSchema();
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(input);
        return new SentenceEmbeddingDataView(this, input);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new SentenceEmbeddingRowMapper(this, inputSchema);
    }

    /// <summary>Embeds texts with this transform's settings.</summary>
    internal float[][] Embed(IReadOnlyList<string> texts)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return texts.Count == 0 ? [] : _embedder.Embed(texts, Settings.ToOptions());
    }

    internal static void CheckInput(DataViewSchema schema, string column)
    {
        var found = schema.GetColumnOrNull(column) ?? throw LoraSchemaException.Missing(column, "text");
        if (found.Type is not TextDataViewType)
        {
            throw LoraSchemaException.WrongType(column, "text", found.Type);
        }
    }

    private static VersionInfo GetVersionInfo() => new(
        modelSignature: "LORASEMB",
        verWrittenCur: 0x00010001,
        verReadableCur: 0x00010001,
        verWeCanReadBack: 0x00010001,
        loaderAssemblyName: typeof(SentenceEmbeddingTransformer).Assembly.FullName,
        loaderSignature: LoaderSignature);

    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ctx.CheckAtModel();
        ctx.SetVersionInfo(GetVersionInfo());
        ctx.Writer.Write(JsonSerializer.Serialize(Settings));
    }

    /// <summary>Called by ML.NET's loader (<c>mlContext.Model.Load</c>).</summary>
    private static SentenceEmbeddingTransformer Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        ctx.CheckAtModel(GetVersionInfo());
        var settings = JsonSerializer.Deserialize<SentenceEmbeddingSettings>(ctx.Reader.ReadString())
            ?? throw new InvalidDataException("The model zip's sentence-embedding settings are empty.");
        return new SentenceEmbeddingTransformer(env, settings, SentenceEmbedder.Open(settings.ModelPath));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _embedder.Dispose();
        }
    }
}
