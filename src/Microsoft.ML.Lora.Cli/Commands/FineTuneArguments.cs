using System.CommandLine;
using MlLora.Cli.Data;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Training;

namespace MlLora.Cli.Commands;

/// <summary>
/// The task/model/data/column/hyper-parameter flags of <c>mllora train</c> (shared with <c>mllora sweep</c>),
/// and how they become an ML.NET pipeline.
/// </summary>
internal sealed class FineTuneArguments
{
    public Option<string> Task { get; } = CommonOptions.Task();
    public Option<string> Model { get; } = new("--model") { Description = "Base model: a Hugging Face folder (config.json, model.safetensors, tokenizer)", Required = true };
    public Option<string> Data { get; } = CommonOptions.Data("Training data: .tsv/.csv with a header row, or .jsonl");
    public Option<string?> Valid { get; } = new("--valid") { Description = "Validation data (same columns), evaluated after each epoch" };
    public Option<string> TextColumn { get; } = new("--text-column") { Description = "Text column", DefaultValueFactory = _ => "Text" };
    public Option<string> LabelColumn { get; } = new("--label-column") { Description = "Label column", DefaultValueFactory = _ => "Label" };
    public Option<string?> Text2Column { get; } = new("--text2-column") { Description = "Second text column (sentence pairs)" };
    public Option<string?> PromptColumn { get; } = new("--prompt-column") { Description = "Prompt column (causal-lm instruction tuning)" };
    public Option<string?> ResponseColumn { get; } = new("--response-column") { Description = "Response column (causal-lm instruction tuning)" };
    public Option<string?> MessagesColumn { get; } = new("--messages-column") { Description = "Conversation column, JSON [{\"role\", \"content\"}, ...] (causal-lm chat fine-tuning; loss on assistant turns)" };
    public Option<string?> ChatTemplate { get; } = new("--chat-template") { Description = "With --messages-column: built-in template (chatml, llama2, llama3, mistral, gemma, plain); default: the model's own" };
    public Option<string?> PositiveLabel { get; } = new("--positive-label") { Description = "Binary: the label value of the positive class (default: 1/true/yes/positive/spam)" };
    public Option<string> Mode { get; } = new("--mode") { Description = "What trains: lora (an adapter), head-only (the task head) or full (every weight)", DefaultValueFactory = _ => "lora" };
    public Option<int> Rank { get; } = new("--rank") { Description = "LoRA rank r", DefaultValueFactory = _ => 8 };
    public Option<double> Alpha { get; } = new("--alpha") { Description = "LoRA alpha", DefaultValueFactory = _ => 16 };
    public Option<string?> Targets { get; } = new("--targets")
    {
        Description = "Target modules, comma-separated, or all-linear (default: the architecture's query and value projections, as PEFT: " +
            "c_attn for GPT-2, query,value for BERT/RoBERTa, q_lin,v_lin for DistilBERT, q_proj,v_proj for the Llama family)",
    };
    public Option<int> Epochs { get; } = new("--epochs") { Description = "Passes over the training data", DefaultValueFactory = _ => 3 };
    public Option<int> BatchSize { get; } = new("--batch-size") { Description = "Rows per batch", DefaultValueFactory = _ => 8 };
    public Option<double> LearningRate { get; } = new("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 1e-3 };
    public Option<string> Precision { get; } = new("--precision") { Description = "fp32 | bf16 | auto (bf16 where the CPU has native bf16, else fp32)", DefaultValueFactory = _ => "fp32" };
    public Option<string> Quantize { get; } = QuantizeOption.Create();
    public Option<int?> Seed { get; } = new("--seed") { Description = "Random seed (default 0)" };
    public Option<int> ChainCycles { get; } = new("--chain-cycles")
    {
        Description = "Chain of LoRA: K cycles of (train, merge into the base, fresh adapter and optimizer), the steps of one run split across them (default 1: plain LoRA)",
        DefaultValueFactory = _ => 1,
    };
    public Option<int> MaxLength { get; } = new("--max-length") { Description = "Longest token sequence", DefaultValueFactory = _ => 128 };
    public Option<string> OnNonFinite { get; } = new("--on-non-finite") { Description = "A step with NaN/Inf loss or gradients: stop (exit 2, last good checkpoint kept) | skip", DefaultValueFactory = _ => "stop" };

    public IEnumerable<Option> All() =>
    [
        Task, Model, Data, Valid, TextColumn, LabelColumn, Text2Column, PromptColumn, ResponseColumn, MessagesColumn, ChatTemplate, PositiveLabel,
        Mode, Rank, Alpha, Targets, Epochs, BatchSize, LearningRate, Precision, Quantize, Seed, MaxLength, OnNonFinite, ChainCycles,
    ];

    public void AddTo(Command command)
    {
        foreach (var option in All())
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The options object the flags describe.</summary>
    public LoraFineTuneOptions ToOptions(ParseResult parse)
    {
        var task = CommonOptions.ParseTask(parse.GetValue(Task)!);
        return new LoraFineTuneOptions
        {
            Task = task,
            BaseModelPath = ModelPaths.RequireFolder(Model.Name, parse.GetValue(Model)!),
            TextColumnName = parse.GetValue(TextColumn)!,
            LabelColumnName = parse.GetValue(LabelColumn)!,
            Text2ColumnName = parse.GetValue(Text2Column),
            PromptColumnName = parse.GetValue(PromptColumn),
            ResponseColumnName = parse.GetValue(ResponseColumn),
            MessagesColumnName = parse.GetValue(MessagesColumn),
            ChatTemplate = parse.GetValue(ChatTemplate),
            Mode = ParseMode(parse.GetValue(Mode)!),
            Rank = parse.GetValue(Rank),
            Alpha = parse.GetValue(Alpha),
            TargetModules = parse.GetValue(Targets),
            NumberOfEpochs = parse.GetValue(Epochs),
            BatchSize = parse.GetValue(BatchSize),
            LearningRate = parse.GetValue(LearningRate),
            Precision = parse.GetValue(Precision) switch
            {
                "fp32" => LoraPrecision.Float32,
                "bf16" => LoraPrecision.BFloat16,
                "auto" => LoraPrecision.Auto,
                var p => throw new ArgumentException($"--precision '{p}' is not fp32, bf16 or auto."),
            },
            Quantization = QuantizeOption.Parse(parse.GetValue(Quantize)!),
            Seed = parse.GetValue(Seed) ?? 0,
            MaxSequenceLength = parse.GetValue(MaxLength),
            NonFiniteSteps = parse.GetValue(OnNonFinite) switch
            {
                "stop" => NonFiniteStepAction.Stop,
                "skip" => NonFiniteStepAction.Skip,
                var v => throw new ArgumentException($"--on-non-finite '{v}' is not stop or skip."),
            },
            ChainCycles = parse.GetValue(ChainCycles),
        };
    }

    private static readonly (string Name, LoraFineTuneMode Mode)[] Modes =
        [("lora", LoraFineTuneMode.Lora), ("head-only", LoraFineTuneMode.HeadOnly), ("full", LoraFineTuneMode.Full)];

    /// <summary>The mode a --mode value names.</summary>
    public static LoraFineTuneMode ParseMode(string name)
    {
        foreach (var (known, mode) in Modes)
        {
            if (known == name)
            {
                return mode;
            }
        }
        throw new ArgumentException($"--mode '{name}' is not one of {string.Join(", ", Modes.Select(m => m.Name))}.");
    }

    /// <summary>The --mode value of a mode.</summary>
    public static string ModeName(LoraFineTuneMode mode) => Modes.First(m => m.Mode == mode).Name;

    /// <summary>
    /// Loads a data file typed for the task. The training file must hold both classes of a binary label, and gives
    /// the classes' names (as the file spells them) to <see cref="LoraFineTuneOptions.BinaryLabelNames"/>, so the
    /// saved model prints predictions in them.
    /// </summary>
    public IDataView LoadData(ParseResult parse, LoraFineTuneOptions options, string path, bool training)
    {
        var labels = new BinaryLabels(parse.GetValue(PositiveLabel), training ? null : options.BinaryLabelNames);
        var data = TaskData.Load(TextTable.Load(path), options.Task, options.Task == LoraTask.CausalLanguageModel ? null : options.LabelColumnName, labels, training);
        if (training && options.Task == LoraTask.BinaryClassification)
        {
            options.BinaryLabelNames = labels.Names;
        }
        return data;
    }

    /// <summary>
    /// The pipeline: for multiclass the text label is mapped to a key first (kept in the saved model, so
    /// 'mllora predict/eval' read raw files), then the LoRA trainer.
    /// </summary>
    public static IEstimator<ITransformer> Pipeline(MLContext ml, LoraFineTuneOptions options) => options.Task switch
    {
        LoraTask.MulticlassClassification => ml.Transforms.Conversion.MapValueToKey(options.LabelColumnName, keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.MulticlassClassification.Trainers.LoraFineTune(options)),
        LoraTask.BinaryClassification => ml.BinaryClassification.Trainers.LoraFineTune(options),
        LoraTask.Regression => ml.Regression.Trainers.LoraFineTune(options),
        _ => ml.Transforms.Text.LoraFineTuneCausalLanguageModel(options),
    };
}
