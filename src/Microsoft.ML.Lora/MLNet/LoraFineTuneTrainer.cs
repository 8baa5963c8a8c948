using Microsoft.ML.Data;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Runtime;
using Microsoft.ML.Lora.Training;
using Microsoft.ML.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// Fine-tunes a pretrained transformer with LoRA inside <c>Fit</c> and returns a
/// <see cref="LoraFineTuneTransformer"/>. Create it from a catalog, for example
/// <c>mlContext.MulticlassClassification.Trainers.LoraFineTune(modelPath)</c>. Only the adapter and the task head
/// are trained; the base weights stay frozen (unless <see cref="LoraFineTuneOptions.Mode"/> asks for the head alone or
/// for every weight). Progress goes to <c>MLContext.Log</c> and
/// <see cref="LoraFineTuneOptions.Progress"/>; <c>mlContext.CancelExecution()</c> stops training within one step.
/// </summary>
public sealed class LoraFineTuneTrainer : IEstimator<LoraFineTuneTransformer>
{
    private readonly IHost _host;

    /// <summary>Creates the trainer (use the catalog extension methods instead).</summary>
    public LoraFineTuneTrainer(IHostEnvironment env, LoraFineTuneOptions options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        _host = env.Register(nameof(LoraFineTuneTrainer));
        Options = options;
        if (options.BaseModel is null && string.IsNullOrWhiteSpace(options.BaseModelPath))
        {
            throw new ArgumentException("Set BaseModelPath (a Hugging Face model folder) or BaseModel.", nameof(options));
        }
    }

    /// <summary>The settings (plain properties; change them between fits to sweep).</summary>
    public LoraFineTuneOptions Options { get; }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        foreach (var name in TrainingDataReader.TextColumns(Options))
        {
            if (!inputSchema.TryFindColumn(name, out var column))
            {
                throw LoraSchemaException.Missing(name, "text", inputSchema.Select(c => c.Name));
            }
            if (column.ItemType is not TextDataViewType || column.Kind != SchemaShape.Column.VectorKind.Scalar)
            {
                throw LoraSchemaException.WrongType(name, "text", column.ItemType);
            }
        }
        var columns = inputSchema.ToDictionary(c => c.Name);
        foreach (var c in OutputShape(inputSchema))
        {
            columns[c.Name] = c;
        }
        return new SchemaShape(columns.Values);
    }

    private IEnumerable<SchemaShape.Column> OutputShape(SchemaShape input)
    {
        var none = new SchemaShape(Array.Empty<SchemaShape.Column>());
        switch (Options.Task)
        {
            case LoraTask.MulticlassClassification:
                input.TryFindColumn(Options.LabelColumnName, out var label);
                yield return new SchemaShape.Column(OutputColumnNames.Score, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false, none);
                yield return new SchemaShape.Column(OutputColumnNames.PredictedLabel, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, label.Annotations ?? none);
                break;
            case LoraTask.BinaryClassification:
                yield return new SchemaShape.Column(OutputColumnNames.Score, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false, none);
                yield return new SchemaShape.Column(OutputColumnNames.Probability, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false, none);
                yield return new SchemaShape.Column(OutputColumnNames.PredictedLabel, SchemaShape.Column.VectorKind.Scalar, BooleanDataViewType.Instance, false, none);
                break;
            case LoraTask.Regression:
                yield return new SchemaShape.Column(OutputColumnNames.Score, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, false, none);
                break;
            default:
                yield return new SchemaShape.Column(Options.GeneratedTextColumnName, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false, none);
                break;
        }
    }

    /// <inheritdoc />
    public LoraFineTuneTransformer Fit(IDataView input) => Fit(input, Options.ValidationSet);

    /// <summary>Trains on <paramref name="input"/>, validating on <paramref name="validation"/> after each epoch.</summary>
    public LoraFineTuneTransformer Fit(IDataView input, IDataView? validation)
    {
        ArgumentNullException.ThrowIfNull(input);
        int seed = Options.Seed ?? _host.Rand.Next();
        var settings = Options.ToFineTuningSettings(seed);
        settings.Validate();
        FineTuneModes.Validate(Options);
        ChainOfLora.Validate(Options);
        if (Options.MaxSequenceLength < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(Options.MaxSequenceLength), Options.MaxSequenceLength, "MaxSequenceLength must be at least 2.");
        }
        ValidateLabelNames();
        var rows = TrainingDataReader.Read(input, Options, "training");
        var validRows = validation is null ? null : TrainingDataReader.Read(validation, Options, "validation");
        // The base's config.json alone gives its architecture's default targets: a bad LoRA setting fails before the weights load.
        var loraConfig = Options.ToLoraConfig(Options.BaseModel?.Model.Config.ModelType ?? HfConfigFile.Read(Options.BaseModelPath!).ModelType);
        loraConfig.Validate();
        var device = TorchDevices.Resolve(Options.Device, Options.FallbackToCpu);

        using var ch = _host.Start("LoRA fine-tuning");
        if (rows.SkippedMissingLabels > 0)
        {
            ch.Warning($"Skipped {rows.SkippedMissingLabels} rows whose label '{Options.LabelColumnName}' is missing.");
        }
        var (baseModel, ownsModel) = FineTuneModes.OpenBase(Options);
        string? adapterName = null;
        try
        {
            var manifest = CreateManifest(input.Schema, loraConfig, baseModel, seed);
            ReportPrecision(ch, manifest.Precision);
            if (Options.Task == LoraTask.Regression)
            {
                // Standardise targets: the head starts near 0 with unit-scale outputs, whatever the label's units.
                double mean = rows.Labels.Average(), std = Math.Sqrt(rows.Labels.Average(l => (l - mean) * (l - mean)));
                manifest = manifest with { LabelMean = mean, LabelScale = std > 1e-12 ? std : 1 };
                Standardize(rows, manifest);
                if (validRows is not null)
                {
                    Standardize(validRows, manifest);
                }
            }
            adapterName = manifest.AdapterName;
            lock (baseModel.Gate)
            {
                AdapterSetup.Rebuild(baseModel, manifest, seed);
                manifest = manifest with { QuantizedBaseFingerprint = AdapterSetup.ApplyPrecision(baseModel, manifest) };
                FineTuneModes.SetTrainable(baseModel, manifest.Mode);
            }
            var (trainable, total) = baseModel.Lora.CountParameters();
            baseModel.Model.to(device);
            var encoder = AdapterSetup.Encoder(baseModel.Tokenizer, manifest);
            var train = Encode(rows, encoder);
            var valid = validRows is null ? null : Encode(validRows, encoder);
            ch.Info(Options.Mode == LoraFineTuneMode.Lora
                ? $"Training {Options.Task} on {train.Count} rows ({baseModel.Model.Config.ModelType}, r={loraConfig.Rank}, alpha={loraConfig.Alpha}, targets {string.Join(",", loraConfig.TargetModules ?? [])})."
                : $"Training {Options.Task} on {train.Count} rows ({baseModel.Model.Config.ModelType}, mode {Options.Mode}: no adapter).");
            ch.Info(baseModel.Lora.TrainableParametersReport());
            var progress = Options.Progress ?? (Options.ShowProgress ? new ConsoleProgress() : null);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            if (Options.ChainCycles > 1)
            {
                // A chain's cycles report steps of the whole run, and each log line says its cycle.
                FineTuningLoop CycleLoop(FineTuningSettings cycleSettings, int cycle, long stepsBefore, long allSteps) =>
                    new(baseModel.Model, TaskObjective.For(Options.Task), cycleSettings, baseModel.Tokenizer.PadId, device)
                    {
                        ThrowIfCancelled = _host.CheckAlive,
                        Progress = p =>
                        {
                            var whole = p with { Step = p.Step + stepsBefore, TotalSteps = allSteps };
                            ch.Info($"cycle {cycle + 1}/{Options.ChainCycles} {ConsoleProgress.Format(whole, clock.Elapsed)}");
                            progress?.Report(whole);
                        },
                    };
                var chain = ChainOfLora.Train(baseModel, manifest, Options, seed, device, train, valid, CycleLoop, ch.Info);
                return new LoraFineTuneTransformer(_host, manifest, baseModel, ownsModel, encoder,
                    chain.Result with { TrainableParameters = trainable, TotalParameters = total })
                {
                    ChainCycleResults = chain.Cycles,
                    MergedCycles = chain.MergedCycles,
                };
            }
            var loop = new FineTuningLoop(baseModel.Model, TaskObjective.For(Options.Task), settings, baseModel.Tokenizer.PadId, device)
            {
                ThrowIfCancelled = _host.CheckAlive,
                Progress = p =>
                {
                    ch.Info(ConsoleProgress.Format(p, clock.Elapsed));
                    progress?.Report(p);
                },
                Checkpoints = Options.CheckpointDirectory is { } dir ? new AdapterCheckpointDirectory(dir, Options.ResumeFromCheckpoint) : null,
                CheckpointInterval = Options.CheckpointInterval,
            };
            FineTuningResult result;
            lock (baseModel.Gate)
            {
                result = loop.Run(train, valid) with { TrainableParameters = trainable, TotalParameters = total };
            }
            return new LoraFineTuneTransformer(_host, manifest, baseModel, ownsModel, encoder, result);
        }
        catch
        {
            if (ownsModel)
            {
                baseModel.Dispose();
            }
            else if (adapterName is not null && baseModel.Lora.Adapters.ContainsKey(adapterName))
            {
                lock (baseModel.Gate)
                {
                    baseModel.Lora.DeleteAdapter(adapterName); // leave a shared base as it was
                }
            }
            throw;
        }
    }

    /// <summary>Says what Auto chose, and warns (once per process) of bf16 asked for on a CPU without native bf16.</summary>
    private void ReportPrecision(IChannel ch, LoraPrecision chosen)
    {
        if (Options.Precision == LoraPrecision.Auto)
        {
            ch.Info($"Precision Auto: {chosen} (CPU features: {string.Join(",", CpuFeatures.Current.Reported)}).");
        }
        if (PrecisionChoice.SlowBFloat16Warning(Options.Precision, CpuFeatures.Current) is { } warning)
        {
            ch.Warning(warning);
            if (Options.ShowProgress)
            {
                Console.Error.WriteLine("warning: " + warning);
            }
        }
    }

    private void ValidateLabelNames()
    {
        if (Options.BinaryLabelNames is not { } names)
        {
            return;
        }
        if (Options.Task != LoraTask.BinaryClassification)
        {
            throw new ArgumentException($"BinaryLabelNames is for binary classification; a {Options.Task} model takes its class names from the label column.", nameof(Options));
        }
        if (names is not [var negative, var positive] || string.IsNullOrWhiteSpace(negative) || string.IsNullOrWhiteSpace(positive) || negative == positive)
        {
            throw new ArgumentException($"BinaryLabelNames must be two different, non-empty names [negative, positive]; got [{string.Join(", ", names)}].", nameof(Options));
        }
    }

    private LoraModelManifest CreateManifest(DataViewSchema schema, Adapters.LoraConfig lora, LoraBaseModel baseModel, int seed)
    {
        string[]? keys = null;
        int labels = 0;
        if (Options.Task == LoraTask.MulticlassClassification)
        {
            var label = schema[Options.LabelColumnName];
            labels = (int)label.Type.GetKeyCount();
            keys = TrainingDataReader.KeyValues(label);
        }
        // A full fine-tune changed every base weight: they go into the zip (the base folder no longer describes the model).
        bool embed = Options.EmbedBaseModel || baseModel.Folder is null || Options.Mode == LoraFineTuneMode.Full;
        return new LoraModelManifest
        {
            Task = Options.Task,
            TextColumn = Options.TextColumnName,
            Text2Column = Options.Task == LoraTask.CausalLanguageModel ? null : Options.Text2ColumnName,
            LabelColumn = Options.LabelColumnName,
            PromptColumn = Options.Task == LoraTask.CausalLanguageModel ? Options.PromptColumnName : null,
            ResponseColumn = Options.Task == LoraTask.CausalLanguageModel ? Options.ResponseColumnName : null,
            MessagesColumn = Options.Task == LoraTask.CausalLanguageModel ? Options.MessagesColumnName : null,
            ChatTemplate = Options.Task == LoraTask.CausalLanguageModel && Options.MessagesColumnName is not null ? Tokenization.Chat.ChatTemplates.Resolve(Options.ChatTemplate, baseModel.Tokenizer).Source : null,
            GeneratedTextColumn = Options.GeneratedTextColumnName,
            LabelKeyValues = keys,
            LabelNames = Options.Task == LoraTask.BinaryClassification ? Options.BinaryLabelNames : null,
            Mode = Options.Mode,
            Labels = labels,
            Lora = AdapterSetup.ConfigFor(lora, Options.Task, baseModel.Model),
            ChainCycles = Options.ChainCycles,
            AdapterName = AdapterSetup.FreshAdapterName(baseModel),
            Base = new BaseModelReference { Path = baseModel.Folder, Fingerprint = baseModel.Fingerprint, ModelType = baseModel.Model.Config.ModelType, Embedded = embed },
            MaxSequenceLength = Options.MaxSequenceLength,
            TruncationSide = Options.TruncationSide,
            ScoringBatchSize = Options.ScoringBatchSize,
            MaxNewTokens = Options.MaxNewTokens,
            Temperature = Options.Temperature,
            Seed = seed,
            Device = Options.Device,
            Precision = PrecisionChoice.Resolve(Options.Precision, CpuFeatures.Current, Options.Mode),
            Quantization = Options.Quantization,
        };
    }

    private static void Standardize(TrainingRows rows, LoraModelManifest manifest)
    {
        for (int i = 0; i < rows.Labels.Count; i++)
        {
            rows.Labels[i] = (float)((rows.Labels[i] - manifest.LabelMean) / manifest.LabelScale);
        }
    }

    private List<TokenizedExample> Encode(TrainingRows rows, ExampleEncoder encoder)
    {
        var examples = new List<TokenizedExample>(rows.Texts.Count);
        for (int i = 0; i < rows.Texts.Count; i++)
        {
            examples.Add(Options.Task == LoraTask.CausalLanguageModel
                ? encoder.EncodeLanguageModelRow(rows.Texts[i], rows.Responses?[i], $"column '{Options.MessagesColumnName}' row {i + 1}")
                : encoder.Encode(rows.Texts[i], rows.Texts2?[i], rows.Labels[i]));
        }
        return examples;
    }
}

/// <summary>The names of the columns a fine-tuned model adds.</summary>
public static class OutputColumnNames
{
    /// <summary>Score: class probabilities (multiclass), margin (binary) or the prediction (regression).</summary>
    public const string Score = Scoring.OutputColumns.Score;
    /// <summary>Calibrated probability of the positive class (binary).</summary>
    public const string Probability = Scoring.OutputColumns.Probability;
    /// <summary>The predicted label: key (multiclass) or Boolean (binary).</summary>
    public const string PredictedLabel = Scoring.OutputColumns.PredictedLabel;
}
