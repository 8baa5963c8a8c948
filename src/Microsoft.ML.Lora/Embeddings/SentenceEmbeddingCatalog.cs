using Microsoft.ML.Data;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Lora.Embeddings;

/// <summary>
/// <c>mlContext.Transforms.Text.LoraSentenceEmbedding(modelPath, ...)</c>: a text column to a vector of Single
/// (the model's width), embedded by <see cref="SentenceEmbedder"/> — a model folder or a LoRA fine-tuned zip.
/// </summary>
public static class SentenceEmbeddingCatalog
{
    /// <summary>Sentence embeddings of a text column.</summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="modelPath">A Hugging Face model folder or a model zip saved by <c>mllora train</c> / <c>Model.Save</c>.</param>
    /// <param name="outputColumnName">The vector column to add.</param>
    /// <param name="inputColumnName">The text column.</param>
    /// <param name="pooling">Pooling, or null for the model's own (its modules.json; mean without one).</param>
    /// <param name="normalize">L2 normalisation, or null for the model's own.</param>
    public static SentenceEmbeddingEstimator LoraSentenceEmbedding(this TransformsCatalog.TextTransforms catalog, string modelPath,
        string outputColumnName = "Embedding", string inputColumnName = "Text", SentencePooling? pooling = null, bool? normalize = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var env = catalog.GetEnvironment();
        env.ComponentCatalog.RegisterAssembly(typeof(SentenceEmbeddingTransformer).Assembly);
        return new SentenceEmbeddingEstimator(env, new SentenceEmbeddingSettings(Path.GetFullPath(modelPath), inputColumnName, outputColumnName, pooling, normalize));
    }
}

/// <summary>What a sentence-embedding transform reads, writes and how it pools (saved in the model zip).</summary>
internal sealed record SentenceEmbeddingSettings(string ModelPath, string InputColumn, string OutputColumn, SentencePooling? Pooling, bool? Normalize)
{
    public SentenceEmbeddingOptions ToOptions() => new() { Pooling = Pooling, Normalize = Normalize };
}

/// <summary>The estimator of <see cref="SentenceEmbeddingCatalog.LoraSentenceEmbedding"/>: Fit opens the model (nothing is trained).</summary>
public sealed class SentenceEmbeddingEstimator : IEstimator<SentenceEmbeddingTransformer>
{
    private readonly IHostEnvironment _env;
    private readonly SentenceEmbeddingSettings _settings;

    internal SentenceEmbeddingEstimator(IHostEnvironment env, SentenceEmbeddingSettings settings)
    {
        _env = env;
        _settings = settings;
    }

    /// <inheritdoc />
    public SentenceEmbeddingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        SentenceEmbeddingTransformer.CheckInput(input.Schema, _settings.InputColumn);
        return new SentenceEmbeddingTransformer(_env, _settings, SentenceEmbedder.Open(_settings.ModelPath));
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        if (!inputSchema.TryFindColumn(_settings.InputColumn, out var column))
        {
            throw LoraSchemaException.Missing(_settings.InputColumn, "text");
        }
        if (column.ItemType is not TextDataViewType || column.Kind != SchemaShape.Column.VectorKind.Scalar)
        {
            throw LoraSchemaException.WrongType(_settings.InputColumn, "text", column.ItemType);
        }
        var columns = inputSchema.ToDictionary(c => c.Name);
        columns[_settings.OutputColumn] = new SchemaShape.Column(_settings.OutputColumn, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false);
        return new SchemaShape(columns.Values);
    }
}
