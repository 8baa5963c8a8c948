using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>Which end of a too-long text is cut.</summary>
public enum TruncationSide
{
    /// <summary>Keep the beginning (drop the end).</summary>
    Right,
    /// <summary>Keep the end (drop the beginning).</summary>
    Left,
}

/// <summary>Numeric precision of the frozen base weights during training and scoring.</summary>
public enum LoraPrecision
{
    /// <summary>Everything in float32.</summary>
    Float32,
    /// <summary>Frozen weights in bfloat16; adapters, optimizer state and loss in float32.</summary>
    BFloat16,
    /// <summary>
    /// BFloat16 where the CPU computes bf16 natively (AVX512-BF16 or AMX), Float32 elsewhere (see
    /// <see cref="PrecisionChoice.Resolve"/>); the saved model records the precision chosen, never Auto.
    /// </summary>
    Auto,
}

/// <summary>
/// Every setting of <see cref="LoraFineTuneTrainer"/>. All members are plain settable properties so a sweep
/// (or ML.NET AutoML) can drive them. Defaults follow common LoRA practice: r 8, α 16, and the attention query
/// and value projections of the base's architecture (<see cref="DefaultLoraTargets"/>).
/// </summary>
public sealed class LoraFineTuneOptions
{
    /// <summary>The task (set by the catalog entry point you call).</summary>
    public LoraTask Task { get; set; } = LoraTask.MulticlassClassification;

    /// <summary>A Hugging Face model folder (config.json, model.safetensors, tokenizer files).</summary>
    public string? BaseModelPath { get; set; }

    /// <summary>An already loaded base model, used instead of <see cref="BaseModelPath"/>.</summary>
    public LoraBaseModel? BaseModel { get; set; }

    /// <summary>The text column (classification/regression input, or plain language-modelling text).</summary>
    public string TextColumnName { get; set; } = "Text";

    /// <summary>Second text column for sentence-pair tasks, or null.</summary>
    public string? Text2ColumnName { get; set; }

    /// <summary>The label column: Boolean (binary), key (multiclass) or Single (regression).</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>
    /// Binary: what the classes are called, [negative, positive] (for example ["ham", "spam"]). Recorded in the saved
    /// model (<see cref="LoraFineTuneTransformer.LabelNames"/>) and in a merged model's id2label; the ML.NET output
    /// stays a Boolean PredictedLabel with a Probability. Null records none (multiclass names come from the key values).
    /// </summary>
    public string[]? BinaryLabelNames { get; set; }

    /// <summary>Prompt column for instruction tuning (causal LM), or null for plain language modelling.</summary>
    public string? PromptColumnName { get; set; }

    /// <summary>Response column for instruction tuning (causal LM); the loss covers its tokens only.</summary>
    public string? ResponseColumnName { get; set; }

    /// <summary>
    /// Conversation column for chat fine-tuning (causal LM), or null: each value is a JSON array of
    /// <c>{"role", "content"}</c> messages (or <c>{"messages": [...]}</c>), rendered with <see cref="ChatTemplate"/>; the loss
    /// covers the assistant turns only. The fine-tuned model's GeneratedText answers conversations of the same form.
    /// </summary>
    public string? MessagesColumnName { get; set; }

    /// <summary>
    /// The chat template for <see cref="MessagesColumnName"/>: a built-in name (chatml, llama2, llama3, mistral, gemma, plain)
    /// or Jinja source; null uses the model's own (tokenizer_config.json), else one recognised from its tokens, else plain.
    /// </summary>
    public string? ChatTemplate { get; set; }

    /// <summary>Name of the generated-text output column (causal LM).</summary>
    public string GeneratedTextColumnName { get; set; } = "GeneratedText";

    /// <summary>
    /// What trains: a LoRA adapter (default), only the task head, or every weight (see <see cref="LoraFineTuneMode"/>).
    /// The LoRA settings below apply to <see cref="LoraFineTuneMode.Lora"/> only.
    /// </summary>
    public LoraFineTuneMode Mode { get; set; } = LoraFineTuneMode.Lora;

    /// <summary>LoRA rank r.</summary>
    public int Rank { get; set; } = 8;

    /// <summary>LoRA α; the update is scaled by α/r (α/√r with rsLoRA).</summary>
    public double Alpha { get; set; } = 16;

    /// <summary>Dropout on the adapters' input during training.</summary>
    public double Dropout { get; set; }

    /// <summary>
    /// Target modules: comma-separated names/suffixes (q_proj,v_proj) or "all-linear"; null takes the base
    /// architecture's default as PEFT does (<see cref="DefaultLoraTargets"/>: GPT-2 c_attn, BERT/RoBERTa
    /// query,value, DistilBERT q_lin,v_lin, the Llama family q_proj,v_proj).
    /// </summary>
    public string? TargetModules { get; set; }

    /// <summary>Scale by α/√r (rank-stabilised LoRA).</summary>
    public bool UseRsLora { get; set; }

    /// <summary>Weight-decomposed LoRA (DoRA): a trained magnitude per output row.</summary>
    public bool UseDora { get; set; }

    /// <summary>How A and B start (PEFT's init_lora_weights): kaiming/zero by default, or gaussian, PiSSA, OLoRA, non-zero.</summary>
    public LoraInitialization Initialization { get; set; } = LoraInitialization.Default;

    /// <summary>Passes over the training data.</summary>
    public int NumberOfEpochs { get; set; } = 3;

    /// <summary>
    /// Stop after this many optimizer steps even if epochs remain (null: all epochs). The learning-rate schedule
    /// spans the steps actually run. Sweeps use it as the per-trial step budget.
    /// </summary>
    public long? MaxSteps { get; set; }

    /// <summary>
    /// Chain of LoRA (COLA): the run is split into this many cycles of equal steps; after each but the last the adapter is
    /// merged into the base and training goes on with fresh LoRA factors (B = 0) and a fresh optimizer, the learning-rate
    /// schedule restarting. The total steps stay those of one run. 1 (default) is plain LoRA. Needs <see cref="Mode"/>
    /// Lora, Float32 precision and no checkpoint directory; a shared <see cref="BaseModel"/> is reloaded from its folder,
    /// since merging changes the base's own weights. The saved zip holds every cycle's factors.
    /// </summary>
    public int ChainCycles { get; set; } = 1;

    /// <summary>Rows per training batch.</summary>
    public int BatchSize { get; set; } = 8;

    /// <summary>Batches accumulated per optimizer step.</summary>
    public int GradientAccumulationSteps { get; set; } = 1;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>LoRA+ ratio: B learns at this multiple of the learning rate.</summary>
    public double LoraPlusRatio { get; set; } = 1;

    /// <summary>AdamW weight decay.</summary>
    public double WeightDecay { get; set; }

    /// <summary>Fraction of steps used for linear warm-up.</summary>
    public double WarmupRatio { get; set; } = 0.05;

    /// <summary>Learning-rate decay after warm-up.</summary>
    public LearningRateScheduleKind Schedule { get; set; } = LearningRateScheduleKind.Linear;

    /// <summary>Longest token sequence fed to the model; longer texts are truncated on <see cref="TruncationSide"/>.</summary>
    public int MaxSequenceLength { get; set; } = 128;

    /// <summary>Which end of a too-long text is dropped.</summary>
    public TruncationSide TruncationSide { get; set; } = TruncationSide.Right;

    /// <summary>
    /// Precision of the frozen weights. BFloat16 stores the base model's frozen weights in bf16 once the adapter is
    /// attached (a shared <see cref="BaseModel"/> is converted for every adapter on it) — half the memory, and on CPUs with
    /// AVX512-BF16 about twice the matrix throughput; adapters, head, optimizer state and loss stay fp32, and during
    /// training the adapters' products run in bf16 as under PyTorch's autocast. Saved models record it and load the same way.
    /// Auto picks BFloat16 on CPUs with native bf16 and Float32 elsewhere (without it bf16 is many times slower). The
    /// default stays Float32: results then do not depend on the machine (docs/reliability.md).
    /// </summary>
    public LoraPrecision Precision { get; set; } = LoraPrecision.Float32;

    /// <summary>
    /// QLoRA: store the frozen base's linear layers quantised (Nf4: 4-bit NormalFloat with double-quantised constants;
    /// Int8: per-row absmax) once the adapter is attached, dequantising them layer by layer in forward and backward into
    /// <see cref="Precision"/>'s dtype. Embeddings, norms, the LM head and the task head stay dense in that dtype.
    /// Saved models record it and re-quantise the referenced base at load, checked by a fingerprint of the packed bytes.
    /// LoRA mode only.
    /// </summary>
    public Adapters.Storage.FrozenWeightQuantization Quantization { get; set; }

    /// <summary>
    /// Recompute each decoder layer in the backward pass instead of keeping its activations: far less memory for
    /// about a third more time per step (Llama-family models; see <see cref="FineTuningSettings.GradientCheckpointing"/>).
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>Validation data (same columns as training), evaluated after each epoch.</summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>Epochs without validation improvement before stopping; null never stops early.</summary>
    public int? EarlyStoppingPatience { get; set; }

    /// <summary>"loss" or "accuracy": the validation metric early stopping and best-epoch selection use.</summary>
    public string EarlyStoppingMetric { get; set; } = "loss";

    /// <summary>
    /// A step whose loss or gradient norm is NaN/Inf: Stop (a <see cref="NonFiniteTrainingException"/>, weights and
    /// checkpoints of the last good step kept) or Skip (no update; <see cref="FineTuningResult.SkippedSteps"/> counts them).
    /// </summary>
    public NonFiniteStepAction NonFiniteSteps { get; set; } = NonFiniteStepAction.Stop;

    /// <summary>Folder for periodic adapter checkpoints, or null.</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>Optimizer steps between checkpoints.</summary>
    public int CheckpointInterval { get; set; } = 100;

    /// <summary>Resume from the latest checkpoint in <see cref="CheckpointDirectory"/> if there is one.</summary>
    public bool ResumeFromCheckpoint { get; set; } = true;

    /// <summary>Seed; null uses the MLContext's random source (so MLContext(seed) makes runs reproducible).</summary>
    public int? Seed { get; set; }

    /// <summary>"cpu", "cuda", "cuda:N" or "auto".</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>Use the CPU when CUDA is asked for but unavailable (otherwise a DeviceUnavailableException).</summary>
    public bool FallbackToCpu { get; set; }

    /// <summary>Store the base model's weights inside the saved zip (for small or merged models).</summary>
    public bool EmbedBaseModel { get; set; }

    /// <summary>Rows per scoring batch in Transform.</summary>
    public int ScoringBatchSize { get; set; } = 32;

    /// <summary>Longest generated continuation (causal LM), in tokens.</summary>
    public int MaxNewTokens { get; set; } = 64;

    /// <summary>Sampling temperature for generation; 0 is greedy.</summary>
    public double Temperature { get; set; }

    /// <summary>Progress reports (epoch, step, loss, tokens/s, validation metrics), besides MLContext.Log.</summary>
    public IProgress<FineTuningProgress>? Progress { get; set; }

    /// <summary>
    /// When no <see cref="Progress"/> is set, <c>Fit</c> writes a progress line to standard error every few seconds
    /// and after each epoch (see <see cref="ConsoleProgress"/>). Set false for silence; MLContext.Log gets every line
    /// either way.
    /// </summary>
    public bool ShowProgress { get; set; } = true;

    /// <summary>
    /// The LoRA configuration these options describe, for a base of HF model type <paramref name="modelType"/>
    /// (needed when <see cref="TargetModules"/> is null, to take that architecture's default targets).
    /// </summary>
    public LoraConfig ToLoraConfig(string? modelType = null) => new()
    {
        Rank = Rank,
        Alpha = Alpha,
        Dropout = Dropout,
        UseRsLora = UseRsLora,
        UseDora = UseDora,
        InitLoraWeights = Initialization,
        TargetModules = [.. (TargetModules ?? DefaultTargetsOf(modelType)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
    };

    private static string DefaultTargetsOf(string? modelType) => modelType is null
        ? throw new InvalidOperationException("TargetModules is null (the architecture's default): pass the base model's model_type to ToLoraConfig.")
        : DefaultLoraTargets.CommaListFor(modelType);

    /// <summary>The optimisation settings these options describe.</summary>
    public FineTuningSettings ToFineTuningSettings(int seed) => new()
    {
        Epochs = NumberOfEpochs,
        MaxSteps = MaxSteps,
        BatchSize = BatchSize,
        GradientAccumulationSteps = GradientAccumulationSteps,
        LearningRate = LearningRate,
        LoraPlusRatio = LoraPlusRatio,
        WeightDecay = WeightDecay,
        WarmupRatio = WarmupRatio,
        Schedule = Schedule,
        Seed = seed,
        EarlyStoppingPatience = EarlyStoppingPatience,
        EarlyStoppingMetric = EarlyStoppingMetric,
        GradientCheckpointing = GradientCheckpointing,
        NonFiniteSteps = NonFiniteSteps,
    };
}
