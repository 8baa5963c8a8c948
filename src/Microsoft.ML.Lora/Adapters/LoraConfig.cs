using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// LoRA settings with PEFT's meanings; the JSON names are PEFT's <c>adapter_config.json</c> keys, and keys
/// this class does not model are kept in <see cref="AdditionalFields"/> so a PEFT file round-trips.
/// h = W0·x + scale·B·A·x with scale = α/r (or α/√r with rsLoRA).
/// </summary>
public sealed partial class LoraConfig
{
    private LoraInitialization _init = LoraInitialization.Default;
    private JsonNode? _initJson;

    /// <summary>PEFT <c>peft_type</c>; only "LORA" is supported.</summary>
    [JsonPropertyName("peft_type")] public string PeftType { get; set; } = "LORA";

    /// <summary>PEFT <c>task_type</c>, e.g. "CAUSAL_LM" or "SEQ_CLS" (the latter also saves classifier/score).</summary>
    [JsonPropertyName("task_type")] public string? TaskType { get; set; }

    /// <summary>PEFT <c>base_model_name_or_path</c>: the base the adapter was trained on.</summary>
    [JsonPropertyName("base_model_name_or_path")] public string? BaseModelNameOrPath { get; set; }

    /// <summary>Rank r of the update (PEFT <c>r</c>).</summary>
    [JsonPropertyName("r")] public int Rank { get; set; } = 8;

    /// <summary>α (PEFT <c>lora_alpha</c>).</summary>
    [JsonPropertyName("lora_alpha")] public double Alpha { get; set; } = 8;

    /// <summary>Dropout on the adapter's input during training (PEFT <c>lora_dropout</c>).</summary>
    [JsonPropertyName("lora_dropout")] public double Dropout { get; set; }

    /// <summary>
    /// Modules to adapt as a list: a name equal to a module's full path, or a suffix after a dot
    /// ("q_proj" matches "model.layers.0.self_attn.q_proj"); "all-linear" means every linear layer except
    /// the output head. Null when <see cref="TargetModulesRegex"/> is used.
    /// </summary>
    [JsonIgnore] public List<string>? TargetModules { get; set; } = ["q_proj", "v_proj"];

    /// <summary>
    /// Modules to adapt as one regular expression that must match a module's full path (PEFT's
    /// <c>target_modules</c> given as a string); "all-linear" is also accepted here.
    /// </summary>
    [JsonIgnore] public string? TargetModulesRegex { get; set; }

    /// <summary>Modules never adapted: exact paths or dotted suffixes (PEFT <c>exclude_modules</c> as a list).</summary>
    [JsonIgnore] public List<string>? ExcludeModules { get; set; }

    /// <summary>Modules never adapted, as one full-match regular expression (PEFT <c>exclude_modules</c> as a string).</summary>
    [JsonIgnore] public string? ExcludeModulesRegex { get; set; }

    /// <summary>Only layers with these indices are adapted (PEFT <c>layers_to_transform</c>; an int or a list).</summary>
    [JsonPropertyName("layers_to_transform"), JsonConverter(typeof(SingleOrListConverter<int>))]
    public List<int>? LayersToTransform { get; set; }

    /// <summary>The name(s) of the module list holding the layers, e.g. "layers" or "h" (PEFT <c>layers_pattern</c>).</summary>
    [JsonPropertyName("layers_pattern"), JsonConverter(typeof(SingleOrListConverter<string>))]
    public List<string>? LayersPattern { get; set; }

    /// <summary>Per-module rank: regex key (matching a path suffix after a dot) → r (PEFT <c>rank_pattern</c>).</summary>
    [JsonPropertyName("rank_pattern")] public Dictionary<string, int> RankPattern { get; set; } = [];

    /// <summary>Per-module α: regex key → α (PEFT <c>alpha_pattern</c>).</summary>
    [JsonPropertyName("alpha_pattern")] public Dictionary<string, double> AlphaPattern { get; set; } = [];

    /// <summary>
    /// Modules trained in full and saved with the adapter, e.g. a classification head (PEFT
    /// <c>modules_to_save</c>; a module matches when its path ends with the name, as in PEFT).
    /// </summary>
    [JsonPropertyName("modules_to_save")] public List<string>? ModulesToSave { get; set; }

    /// <summary>Which biases train (PEFT <c>bias</c>).</summary>
    [JsonPropertyName("bias")] public LoraBias Bias { get; set; } = LoraBias.None;

    /// <summary>Scale by α/√r instead of α/r (PEFT <c>use_rslora</c>).</summary>
    [JsonPropertyName("use_rslora")] public bool UseRsLora { get; set; }

    /// <summary>Weight-decomposed LoRA with a trained magnitude per output row (PEFT <c>use_dora</c>).</summary>
    [JsonPropertyName("use_dora")] public bool UseDora { get; set; }

    /// <summary>Recorded for PEFT (GPT-2 Conv1D weights are [in, out]); the layers know their own orientation.</summary>
    [JsonPropertyName("fan_in_fan_out")] public bool FanInFanOut { get; set; }

    /// <summary>PEFT <c>inference_mode</c>: when true the adapter's parameters are not trainable.</summary>
    [JsonPropertyName("inference_mode")] public bool InferenceMode { get; set; }

    /// <summary>How new A and B start (PEFT <c>init_lora_weights</c>).</summary>
    [JsonIgnore]
    public LoraInitialization InitLoraWeights
    {
        get => _init;
        set
        {
            _init = value;
            _initJson = null;
        }
    }

    /// <summary>PEFT keys this class does not model, kept verbatim so an imported config exports unchanged.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? AdditionalFields { get; set; }

    /// <summary>True when "all-linear" is requested (as the string form or as the only list entry).</summary>
    [JsonIgnore]
    public bool TargetsAllLinear =>
        string.Equals(TargetModulesRegex, AllLinear, StringComparison.OrdinalIgnoreCase)
        || (TargetModules is [var only] && string.Equals(only, AllLinear, StringComparison.OrdinalIgnoreCase));

    /// <summary>PEFT's special target_modules value for every linear layer but the output head.</summary>
    public const string AllLinear = "all-linear";

    /// <summary>
    /// The modules_to_save PEFT actually uses: the configured ones plus "classifier" and "score" for
    /// sequence classification (PEFT adds those for SEQ_CLS even when the file lists none).
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<string> EffectiveModulesToSave =>
        TaskType == "SEQ_CLS"
            ? [.. (ModulesToSave ?? []).Concat(ClassifierHeadNames).Distinct(StringComparer.Ordinal)]
            : ModulesToSave ?? [];

    /// <summary>Head names PEFT saves automatically for sequence classification.</summary>
    public static IReadOnlyList<string> ClassifierHeadNames { get; } = ["classifier", "score"];

    /// <summary>The scale applied to B·A·x for a given rank and α.</summary>
    public static double ScaleFor(int rank, double alpha, bool useRsLora) =>
        useRsLora ? alpha / Math.Sqrt(rank) : alpha / rank;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> for settings no adapter can have.</summary>
    public void Validate(string source = "LoraConfig")
    {
        if (Rank <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Rank), Rank, $"{source}: LoRA rank r must be at least 1.");
        }
        if (!(Alpha > 0) || double.IsInfinity(Alpha))
        {
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, $"{source}: lora_alpha must be a positive finite number.");
        }
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout))
        {
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, $"{source}: lora_dropout must be in [0, 1).");
        }
        foreach (var (pattern, r) in RankPattern)
        {
            if (r <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(RankPattern), r, $"{source}: rank_pattern '{pattern}' gives rank {r}; ranks must be at least 1.");
            }
        }
        foreach (var (pattern, a) in AlphaPattern)
        {
            if (!(a > 0) || double.IsInfinity(a))
            {
                throw new ArgumentOutOfRangeException(nameof(AlphaPattern), a, $"{source}: alpha_pattern '{pattern}' gives α {a}; α must be positive and finite.");
            }
        }
        if (TargetModulesRegex is null && (TargetModules is null || TargetModules.Count == 0))
        {
            throw new ArgumentException($"{source}: target_modules is empty: name at least one module (for example q_proj, v_proj) or all-linear.", nameof(TargetModules));
        }
        if (!string.Equals(PeftType, "LORA", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"{source}: peft_type '{PeftType}' is not supported (only LORA).", nameof(PeftType));
        }
        if (LayersToTransform?.Any(i => i < 0) == true)
        {
            throw new ArgumentOutOfRangeException(nameof(LayersToTransform), $"{source}: layers_to_transform holds a negative index.");
        }
        LoraTargetMatcher.CheckPatterns(this, source);
    }

    /// <summary>A deep copy (through JSON, so every field including unknown ones is copied).</summary>
    public LoraConfig Clone() => FromJson(ToJson(), "clone");
}
