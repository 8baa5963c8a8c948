using Microsoft.ML.Data;
using Microsoft.ML.Lora.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// Entry points for LoRA fine-tuning from ML.NET's catalogs:
/// <c>mlContext.BinaryClassification.Trainers.LoraFineTune</c>, <c>...MulticlassClassification...</c>,
/// <c>...Regression...</c> and <c>mlContext.Transforms.Text.LoraFineTuneCausalLanguageModel</c>.
/// Each has a flat-argument overload with common defaults and an <see cref="LoraFineTuneOptions"/> overload.
/// </summary>
public static class LoraCatalog
{
    /// <summary>Multiclass text classification: the label must be a key column (MapValueToKey).</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="baseModelPath">A Hugging Face model folder.</param>
    /// <param name="labelColumnName">The key label column.</param>
    /// <param name="textColumnName">The text column.</param>
    /// <param name="rank">LoRA rank r.</param>
    /// <param name="alpha">LoRA α.</param>
    /// <param name="numberOfEpochs">Passes over the data.</param>
    /// <param name="learningRate">Peak learning rate.</param>
    /// <param name="text2ColumnName">A second text column for sentence pairs, or null.</param>
    public static LoraFineTuneTrainer LoraFineTune(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string baseModelPath, string labelColumnName = DefaultColumnNames.Label, string textColumnName = "Text",
        int rank = 8, double alpha = 16, int numberOfEpochs = 3, double learningRate = 1e-3, string? text2ColumnName = null) =>
        catalog.LoraFineTune(Flat(LoraTask.MulticlassClassification, baseModelPath, labelColumnName, textColumnName, rank, alpha, numberOfEpochs, learningRate, text2ColumnName));

    /// <summary>Multiclass text classification with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">The settings; <see cref="LoraFineTuneOptions.Task"/> is set to multiclass.</param>
    public static LoraFineTuneTrainer LoraFineTune(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, LoraFineTuneOptions options) =>
        Create(catalog.GetEnvironment(), options, LoraTask.MulticlassClassification);

    /// <summary>Binary text classification: the label must be a Boolean column.</summary>
    /// <param name="catalog">The binary trainers catalog.</param>
    /// <param name="baseModelPath">A Hugging Face model folder.</param>
    /// <param name="labelColumnName">The Boolean label column.</param>
    /// <param name="textColumnName">The text column.</param>
    /// <param name="rank">LoRA rank r.</param>
    /// <param name="alpha">LoRA α.</param>
    /// <param name="numberOfEpochs">Passes over the data.</param>
    /// <param name="learningRate">Peak learning rate.</param>
    /// <param name="text2ColumnName">A second text column for sentence pairs, or null.</param>
    public static LoraFineTuneTrainer LoraFineTune(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog,
        string baseModelPath, string labelColumnName = DefaultColumnNames.Label, string textColumnName = "Text",
        int rank = 8, double alpha = 16, int numberOfEpochs = 3, double learningRate = 1e-3, string? text2ColumnName = null) =>
        catalog.LoraFineTune(Flat(LoraTask.BinaryClassification, baseModelPath, labelColumnName, textColumnName, rank, alpha, numberOfEpochs, learningRate, text2ColumnName));

    /// <summary>Binary text classification with every setting.</summary>
    /// <param name="catalog">The binary trainers catalog.</param>
    /// <param name="options">The settings; <see cref="LoraFineTuneOptions.Task"/> is set to binary.</param>
    public static LoraFineTuneTrainer LoraFineTune(this BinaryClassificationCatalog.BinaryClassificationTrainers catalog, LoraFineTuneOptions options) =>
        Create(catalog.GetEnvironment(), options, LoraTask.BinaryClassification);

    /// <summary>Text regression: the label must be a Single column.</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="baseModelPath">A Hugging Face model folder.</param>
    /// <param name="labelColumnName">The Single label column.</param>
    /// <param name="textColumnName">The text column.</param>
    /// <param name="rank">LoRA rank r.</param>
    /// <param name="alpha">LoRA α.</param>
    /// <param name="numberOfEpochs">Passes over the data.</param>
    /// <param name="learningRate">Peak learning rate.</param>
    /// <param name="text2ColumnName">A second text column for sentence pairs, or null.</param>
    public static LoraFineTuneTrainer LoraFineTune(this RegressionCatalog.RegressionTrainers catalog,
        string baseModelPath, string labelColumnName = DefaultColumnNames.Label, string textColumnName = "Text",
        int rank = 8, double alpha = 16, int numberOfEpochs = 3, double learningRate = 1e-3, string? text2ColumnName = null) =>
        catalog.LoraFineTune(Flat(LoraTask.Regression, baseModelPath, labelColumnName, textColumnName, rank, alpha, numberOfEpochs, learningRate, text2ColumnName));

    /// <summary>Text regression with every setting.</summary>
    /// <param name="catalog">The regression trainers catalog.</param>
    /// <param name="options">The settings; <see cref="LoraFineTuneOptions.Task"/> is set to regression.</param>
    public static LoraFineTuneTrainer LoraFineTune(this RegressionCatalog.RegressionTrainers catalog, LoraFineTuneOptions options) =>
        Create(catalog.GetEnvironment(), options, LoraTask.Regression);

    /// <summary>
    /// Causal-language-model fine-tuning. With a prompt and a response column it is instruction tuning (loss on
    /// the response tokens only); with <paramref name="promptColumnName"/> null it is plain language modelling on
    /// <paramref name="textColumnName"/>. The transformer generates text into <c>GeneratedText</c> from the prompt
    /// (or text) column.
    /// </summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="baseModelPath">A Hugging Face model folder.</param>
    /// <param name="promptColumnName">The prompt column, or null for plain language modelling.</param>
    /// <param name="responseColumnName">The response column (with a prompt column).</param>
    /// <param name="textColumnName">The text column for plain language modelling.</param>
    /// <param name="rank">LoRA rank r.</param>
    /// <param name="alpha">LoRA α.</param>
    /// <param name="numberOfEpochs">Passes over the data.</param>
    /// <param name="learningRate">Peak learning rate.</param>
    public static LoraFineTuneTrainer LoraFineTuneCausalLanguageModel(this TransformsCatalog.TextTransforms catalog,
        string baseModelPath, string? promptColumnName = "Prompt", string? responseColumnName = "Response", string textColumnName = "Text",
        int rank = 8, double alpha = 16, int numberOfEpochs = 3, double learningRate = 1e-3)
    {
        var options = Flat(LoraTask.CausalLanguageModel, baseModelPath, DefaultColumnNames.Label, textColumnName, rank, alpha, numberOfEpochs, learningRate, null);
        options.PromptColumnName = promptColumnName;
        options.ResponseColumnName = promptColumnName is null ? null : responseColumnName;
        return catalog.LoraFineTuneCausalLanguageModel(options);
    }

    /// <summary>Causal-language-model fine-tuning with every setting.</summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="options">The settings; <see cref="LoraFineTuneOptions.Task"/> is set to causal LM.</param>
    public static LoraFineTuneTrainer LoraFineTuneCausalLanguageModel(this TransformsCatalog.TextTransforms catalog, LoraFineTuneOptions options) =>
        Create(catalog.GetEnvironment(), options, LoraTask.CausalLanguageModel);

    private static LoraFineTuneOptions Flat(LoraTask task, string baseModelPath, string label, string text, int rank, double alpha, int epochs, double lr, string? text2) => new()
    {
        Task = task,
        BaseModelPath = baseModelPath,
        LabelColumnName = label,
        TextColumnName = text,
        Text2ColumnName = text2,
        Rank = rank,
        Alpha = alpha,
        NumberOfEpochs = epochs,
        LearningRate = lr,
    };

    private static LoraFineTuneTrainer Create(IHostEnvironment env, LoraFineTuneOptions options, LoraTask task)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Task = task;
        RegisterForLoading(env);
        return new LoraFineTuneTrainer(env, options);
    }

    /// <summary>
    /// Registers this assembly's loaders with ML.NET so <c>mlContext.Model.Load</c> can read LoRA models
    /// (equivalent to <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(LoraFineTuneTransformer).Assembly)</c>).
    /// </summary>
    /// <param name="mlContext">The context that will load models.</param>
    public static MLContext RegisterLora(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        RegisterForLoading(mlContext);
        return mlContext;
    }

    /// <summary>
    /// <c>mlContext.Model.Load</c> for models that contain LoRA transformers: registers the loader and, since ML.NET
    /// calls loaders through reflection, rethrows the loader's own typed exception (for example
    /// <see cref="BaseModelNotFoundException"/>) instead of the <see cref="System.Reflection.TargetInvocationException"/>
    /// wrapping it.
    /// </summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="path">The model zip.</param>
    /// <param name="inputSchema">The schema the model expects.</param>
    /// <exception cref="UnsafeModelZipException">An entry's name leaves the archive or its size is a zip bomb (see <see cref="ModelZipGuard"/>).</exception>
    public static ITransformer LoadWithLora(this ModelOperationsCatalog catalog, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        RegisterForLoading(catalog.GetEnvironment());
        ModelZipGuard.Check(path);
        try
        {
            return catalog.Load(path, out inputSchema);
        }
        catch (System.Reflection.TargetInvocationException e) when (Innermost(e) is { } inner)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(inner).Throw();
            throw; // unreachable
        }
    }

    /// <summary>
    /// <c>mlContext.Model.Save</c>, atomically: the zip is written under a temporary name in the destination's
    /// folder, flushed and renamed over <paramref name="path"/>, so a process killed during the save leaves the
    /// previous zip (or none) and never a truncated one. Use it wherever a crash must not lose a saved model.
    /// </summary>
    /// <param name="catalog">The model operations catalog (<c>mlContext.Model</c>).</param>
    /// <param name="model">The model to save.</param>
    /// <param name="inputSchema">The schema of the data the model reads.</param>
    /// <param name="path">The model zip.</param>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        IO.AtomicOutput.WriteFile(path, temp => catalog.Save(model, inputSchema, temp));
    }

    /// <summary>
    /// Cancels training and other work running under <paramref name="mlContext"/>: a LoRA <c>Fit</c> stops before
    /// its next step with an <see cref="OperationCanceledException"/> (ML.NET keeps its own method internal).
    /// </summary>
    /// <param name="mlContext">The context whose work stops.</param>
    public static void CancelExecution(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.CancelExecution(); // binds to ML.NET's internal instance method (publicized reference)
    }

    private static Exception? Innermost(Exception e)
    {
        var inner = e;
        while (inner is System.Reflection.TargetInvocationException { InnerException: { } next })
        {
            inner = next;
        }
        return ReferenceEquals(inner, e) ? null : inner;
    }

    private static void RegisterForLoading(IHostEnvironment env) =>
        env.ComponentCatalog.RegisterAssembly(typeof(LoraFineTuneTransformer).Assembly);
}
