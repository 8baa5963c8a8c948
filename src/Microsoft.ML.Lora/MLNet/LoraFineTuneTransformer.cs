using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.MLNet.Scoring;
using Microsoft.ML.Lora.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// A fine-tuned model in an ML.NET pipeline: the base model with its LoRA adapter and task head.
/// <see cref="Transform"/> scores in length-bucketed batches; <c>PredictionEngine</c> scores row by row,
/// reusing the tokenizer and model. Saved by <c>mlContext.Model.Save</c> with the adapter, head, tokenizer,
/// LoRA config and a reference to the base model inside the zip (see MLNet/Persistence/LoraModelPersistence.cs).
/// Dispose it to free the model's native memory.
/// </summary>
public sealed partial class LoraFineTuneTransformer : ITransformer, IDisposable
{
    private readonly LoraScorer _scorer;
    private readonly LoraBaseModel _base;
    private readonly bool _ownsModel;
    private bool _disposed;

    /// <summary>Creates the transformer; a null <paramref name="encoder"/> is built from the manifest when text is first encoded.</summary>
    internal LoraFineTuneTransformer(IHostEnvironment env, LoraModelManifest manifest, LoraBaseModel baseModel, bool ownsModel, ExampleEncoder? encoder, FineTuningResult? training)
    {
        _ownsModel = ownsModel;
        Host = env.Register(nameof(LoraFineTuneTransformer));
        Manifest = manifest;
        _base = baseModel;
        TrainingResult = training;
        var device = Runtime.TorchDevices.Resolve(manifest.Device, fallbackToCpu: true);
        var lazyEncoder = encoder is null ? new Lazy<ExampleEncoder>(() => AdapterSetup.Encoder(baseModel.Tokenizer, manifest)) : new Lazy<ExampleEncoder>(encoder);
        _scorer = new LoraScorer(baseModel, AdapterName, lazyEncoder, device, manifest.ScoringBatchSize);
    }

    internal IHost Host { get; }

    internal LoraModelManifest Manifest { get; }

    /// <summary>The base model, its adapter and head (shared with the scorer; do not dispose it yourself).</summary>
    public LoraBaseModel Model => _base;

    /// <summary>The task this model was trained for.</summary>
    public LoraTask Task => Manifest.Task;

    /// <summary>What was trained: a LoRA adapter, the head alone, or every weight.</summary>
    public LoraFineTuneMode Mode => Manifest.Mode;

    /// <summary>The name of this model's adapter on its base; null in the HeadOnly and Full modes, which have none.</summary>
    public string? AdapterName => Manifest.Mode == LoraFineTuneMode.Lora ? Manifest.AdapterName : null;

    /// <summary>What importing a PEFT adapter found (null unless created by <see cref="PeftInterop.ImportPeftAdapter"/>).</summary>
    public Adapters.AdapterImportReport? ImportReport { get; init; }

    /// <summary>The smallest input schema the model scores: its text column(s).</summary>
    public DataViewSchema InputSchema
    {
        get
        {
            var builder = new DataViewSchema.Builder();
            foreach (var column in TextColumnReader.Columns(Manifest))
            {
                builder.AddColumn(column, TextDataViewType.Instance);
            }
            return builder.ToSchema();
        }
    }

    /// <summary>
    /// The classes' names in head order, when known: binary [negative, positive] as given by
    /// <see cref="LoraFineTuneOptions.BinaryLabelNames"/>, multiclass the label's key values; null otherwise
    /// (regression, causal LM, or a model saved without them).
    /// </summary>
    public IReadOnlyList<string>? LabelNames => Manifest.Task switch
    {
        LoraTask.BinaryClassification => Manifest.LabelNames,
        LoraTask.MulticlassClassification => Manifest.LabelKeyValues,
        _ => null,
    };

    /// <summary>The label column the model was trained on.</summary>
    public string LabelColumnName => Manifest.LabelColumn;

    /// <summary>Where the base model came from and its fingerprint.</summary>
    public BaseModelReference BaseModelReference => Manifest.Base;

    /// <summary>What training did (null for a model loaded from a zip).</summary>
    public FineTuningResult? TrainingResult { get; }

    /// <summary>
    /// Chain of LoRA: what each cycle's training did, in order (empty for a plain run and for a model loaded from a zip).
    /// </summary>
    public IReadOnlyList<FineTuningResult> ChainCycleResults { get; internal init; } = [];

    /// <summary>Chain of LoRA: how many cycles trained this model (1 for plain LoRA).</summary>
    public int ChainCycles => Manifest.ChainCycles;

    /// <summary>The adapter tensors (safetensors bytes) of the cycles merged into the base, oldest first; saved in the zip.</summary>
    internal IReadOnlyList<byte[]> MergedCycles { get; init; } = [];

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        TextColumnReader.Check(inputSchema, Manifest);
        return OutputColumns.Build(inputSchema, Manifest);
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(input);
        return new LoraScoredDataView(this, input);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        TextColumnReader.Check(inputSchema, Manifest);
        return new LoraRowMapper(this, inputSchema);
    }

    /// <summary>Scores (or generates for) a list of rows; one batch per <c>ScoringBatchSize</c> rows.</summary>
    internal RowOutput[] ComputeOutputs(IReadOnlyList<(string Text, string? Text2)> rows)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (rows.Count == 0)
        {
            return [];
        }
        if (Manifest.Task == LoraTask.CausalLanguageModel)
        {
            var texts = _scorer.Generate(rows.Select(r => r.Text).ToList(), Manifest.MaxNewTokens, Manifest.Temperature, Manifest.Seed);
            return texts.Select(t => new RowOutput(null, 0, 0, 0, false, t)).ToArray();
        }
        var outputs = _scorer.Score(rows).Select(l => OutputConversion.FromLogits(Manifest.Task, l)).ToArray();
        if (Manifest.Task == LoraTask.Regression)
        {
            for (int i = 0; i < outputs.Length; i++)
            {
                outputs[i] = outputs[i] with { Score = (float)(outputs[i].Score * Manifest.LabelScale + Manifest.LabelMean) };
            }
        }
        return outputs;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            if (SharedBaseCache.Holds(_base))
            {
                lock (_base.Gate)
                {
                    _base.Lora.DeleteAdapter(Manifest.AdapterName);
                }
                SharedBaseCache.Release(_base);
            }
            else if (_ownsModel)
            {
                _base.Dispose();
            }
            else
            {
                lock (_base.Gate)
                {
                    _base.Lora.DeleteAdapter(Manifest.AdapterName);
                }
            }
        }
    }
}
