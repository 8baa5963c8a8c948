using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Embeddings;

/// <summary>
/// Sentence embeddings from a model's own forward pass, as sentence-transformers computes them: tokenize
/// ([CLS] text [SEP]), run the encoder, pool the token states (mean over the attention mask, or [CLS]) and
/// optionally L2-normalise. Pooling and normalisation default to the model folder's sentence-transformers files
/// (<see cref="SentenceEmbeddingConfig"/>). A LoRA fine-tuned model zip embeds with its adapter active.
/// Thread-safe: forward passes are serialised on the (possibly shared) base model.
/// </summary>
public sealed class SentenceEmbedder : IDisposable
{
    private readonly LoraBaseModel _base;
    private readonly string? _adapter;
    private readonly IDisposable? _owner;

    private SentenceEmbedder(LoraBaseModel baseModel, string? adapter, SentenceEmbeddingConfig? config, IDisposable? owner)
    {
        _base = baseModel;
        _adapter = adapter;
        _owner = owner;
        ModelConfig = config;
    }

    /// <summary>The model's own sentence-embedding settings, or null when its folder has none.</summary>
    public SentenceEmbeddingConfig? ModelConfig { get; }

    /// <summary>The length of each vector (the model's hidden width).</summary>
    public int Dimension => _base.Model.Config.ModelWidth;

    /// <summary>
    /// Opens a Hugging Face model folder, or a model zip saved by <c>mllora train</c> / <c>mlContext.Model.Save</c>
    /// (its base model with the fine-tuned adapter; the base folder's sentence-transformers files give the defaults).
    /// </summary>
    /// <exception cref="FileNotFoundException">The path is neither a folder nor a file.</exception>
    public static SentenceEmbedder Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
        {
            var model = LoraBaseModel.Load(path);
            try
            {
                return new SentenceEmbedder(model, null, SentenceEmbeddingConfig.Read(path), model);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{Path.GetFullPath(path)}' is neither a model folder nor a model zip.", path);
        }
        var zip = FineTunedModelZip.Load(path);
        try
        {
            var lora = zip.Lora;
            var config = lora.Model.Folder is { } folder && Directory.Exists(folder) ? SentenceEmbeddingConfig.Read(folder) : null;
            return new SentenceEmbedder(lora.Model, lora.AdapterName, config, zip);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    /// <summary>Embeds with a model already loaded (not disposed with this embedder), optionally with one of its adapters active.</summary>
    public static SentenceEmbedder FromModel(LoraBaseModel model, string? adapterName = null, SentenceEmbeddingConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (adapterName is not null && !model.Lora.Adapters.ContainsKey(adapterName))
        {
            throw new ArgumentException($"The model has no adapter '{adapterName}' (adapters: {string.Join(", ", model.Lora.Adapters.Keys)}).", nameof(adapterName));
        }
        return new SentenceEmbedder(model, adapterName, config ?? (model.Folder is { } f && Directory.Exists(f) ? SentenceEmbeddingConfig.Read(f) : null), owner: null);
    }

    /// <summary>One vector of <see cref="Dimension"/> floats per text, in order.</summary>
    /// <exception cref="ArgumentException">A text is null, or the options are out of range.</exception>
    public float[][] Embed(IReadOnlyList<string> texts, SentenceEmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        options ??= new SentenceEmbeddingOptions();
        var pooling = options.Pooling ?? ModelConfig?.Pooling ?? SentencePooling.Mean;
        bool normalize = options.Normalize ?? ModelConfig?.Normalize ?? false;
        int maxLength = options.MaxSequenceLength ?? ModelConfig?.MaxSeqLength ?? _base.Model.MaxSequenceLength ?? 512;
        if (maxLength < 2 || options.BatchSize < 1)
        {
            throw new ArgumentException($"The maximum sequence length ({maxLength}) must be at least 2 and the batch size ({options.BatchSize}) at least 1.", nameof(options));
        }
        var encoded = texts.Select((text, i) => text is null
            ? throw new ArgumentException($"Text {i} is null.", nameof(texts))
            : FramedTruncation.Encode(_base.Tokenizer, text, maxLength)).ToArray();
        var results = new float[texts.Count][];
        var order = Enumerable.Range(0, texts.Count).OrderBy(i => encoded[i].Length).ToArray();
        var model = _base.Model;
        lock (_base.Gate)
        {
            if (_adapter is not null && (_base.Lora.ActiveAdapters is not [var active] || active != _adapter))
            {
                _base.Lora.SetActiveAdapters(_adapter);
            }
            model.eval();
            using var noGrad = no_grad();
            var device = model.parameters().First().device;
            foreach (var chunk in order.Chunk(options.BatchSize))
            {
                using var scope = NewDisposeScope();
                using var batch = TrainingBatch.Collate([.. chunk.Select(i => new TokenizedExample(encoded[i]))], _base.Tokenizer.PadId, device);
                var pooled = SentencePoolingMath.Pool(model.ForwardHidden(batch.InputIds, batch.AttentionMask), batch.AttentionMask, pooling);
                var vectors = (normalize ? SentencePoolingMath.Normalize(pooled) : pooled).cpu();
                var flat = vectors.data<float>().ToArray();
                int width = (int)vectors.shape[1];
                for (int j = 0; j < chunk.Length; j++)
                {
                    results[chunk[j]] = flat.AsSpan(j * width, width).ToArray();
                }
            }
        }
        return results;
    }

    /// <inheritdoc />
    public void Dispose() => _owner?.Dispose();
}
