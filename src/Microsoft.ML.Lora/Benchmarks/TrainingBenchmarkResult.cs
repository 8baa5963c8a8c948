using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>
/// The figures of one training benchmark. The JSON names are a contract other tools read (<c>mllora bench train
/// --json</c>): keep them stable.
/// </summary>
public sealed record TrainingBenchmarkResult
{
    /// <summary>The preset's name.</summary>
    [JsonPropertyName("preset")] public required string Preset { get; init; }

    /// <summary>"lora" or "full".</summary>
    [JsonPropertyName("mode")] public required string Mode { get; init; }

    /// <summary>"fp32" or "bf16": the dtype of the frozen weights.</summary>
    [JsonPropertyName("precision")] public required string Precision { get; init; }

    /// <summary>The precision the run used ("fp32" or "bf16"), after <c>--precision auto</c> chose for this CPU.</summary>
    [JsonPropertyName("precision_chosen")] public required string PrecisionChosen { get; init; }

    /// <summary>The CPU's features that decide precision, e.g. ["avx2","fma","avx512f","avx512_bf16"] (<see cref="Runtime.CpuFeatures.Reported"/>).</summary>
    [JsonPropertyName("cpu_features")] public required IReadOnlyList<string> CpuFeatures { get; init; }

    /// <summary>How the frozen linear layers were stored: "none", "nf4" or "int8".</summary>
    [JsonPropertyName("quantize")] public string Quantize { get; init; } = "none";

    /// <summary>Tokens per row.</summary>
    [JsonPropertyName("seq")] public int Seq { get; init; }

    /// <summary>Rows per step.</summary>
    [JsonPropertyName("batch")] public int Batch { get; init; }

    /// <summary>Timed steps.</summary>
    [JsonPropertyName("steps")] public int Steps { get; init; }

    /// <summary>Untimed steps before them.</summary>
    [JsonPropertyName("warmup_steps")] public int WarmupSteps { get; init; }

    /// <summary>LoRA rank (0 for full fine-tuning).</summary>
    [JsonPropertyName("rank")] public int Rank { get; init; }

    /// <summary>LoRA targets ("" for full fine-tuning).</summary>
    [JsonPropertyName("targets")] public string Targets { get; init; } = "";

    /// <summary>Whether decoder layers were recomputed in the backward pass.</summary>
    [JsonPropertyName("gradient_checkpointing")] public bool GradientCheckpointing { get; init; }

    /// <summary>Whether glibc was told to return freed blocks of 1 MiB and more (gradient checkpointing does, see NativeAllocator).</summary>
    [JsonPropertyName("lean_allocator")] public bool LeanAllocator { get; init; }

    /// <summary>torch intra-op threads.</summary>
    [JsonPropertyName("threads")] public int Threads { get; init; }

    /// <summary>Median seconds per optimizer step (forward, backward, clipping, update, batch collation).</summary>
    [JsonPropertyName("step_seconds_median")] public double StepSecondsMedian { get; init; }

    /// <summary>Every timed step's seconds, in order.</summary>
    [JsonPropertyName("step_seconds")] public IReadOnlyList<double> StepSeconds { get; init; } = [];

    /// <summary>seq × batch / median step time.</summary>
    [JsonPropertyName("tokens_per_second")] public double TokensPerSecond { get; init; }

    /// <summary>Peak resident memory of the process during the training steps (model construction excluded where the OS allows resetting the peak).</summary>
    [JsonPropertyName("peak_rss_bytes")] public long PeakRssBytes { get; init; }

    /// <summary>Resident memory with the model built and nothing trained yet (what the peak is measured from).</summary>
    [JsonPropertyName("rss_before_steps_bytes")] public long RssBeforeStepsBytes { get; init; }

    /// <summary>Resident memory after the warm-up steps.</summary>
    [JsonPropertyName("rss_after_warmup_bytes")] public long RssAfterWarmupBytes { get; init; }

    /// <summary>Resident memory after the last step.</summary>
    [JsonPropertyName("rss_final_bytes")] public long RssFinalBytes { get; init; }

    /// <summary>rss_final_bytes − rss_after_warmup_bytes: growth over the timed steps (flat memory: near 0).</summary>
    [JsonPropertyName("rss_growth_bytes")] public long RssGrowthBytes => RssFinalBytes - RssAfterWarmupBytes;

    /// <summary>Resident memory after every step, warm-up included.</summary>
    [JsonPropertyName("rss_per_step_bytes")] public IReadOnlyList<long> RssPerStepBytes { get; init; } = [];

    /// <summary>Bytes of all frozen storage: non-trainable Parameters plus quantised codes, constants and code maps.</summary>
    [JsonPropertyName("frozen_weight_bytes")] public long FrozenWeightBytes { get; init; }

    /// <summary>Bytes of the frozen storage of the quantisable linear layers alone (all but embeddings, norms and the LM head).</summary>
    [JsonPropertyName("frozen_linear_weight_bytes")] public long FrozenLinearWeightBytes { get; init; }

    /// <summary>Number of trained parameters.</summary>
    [JsonPropertyName("trainable_parameters")] public long TrainableParameters { get; init; }

    /// <summary>P of the FLOP accounting: parameters in matrix products including the LM head.</summary>
    [JsonPropertyName("matmul_parameters")] public long MatmulParameters { get; init; }

    /// <summary>Model FLOPs per token (see <see cref="FlopAccounting"/>).</summary>
    [JsonPropertyName("flops_per_token")] public double FlopsPerToken { get; init; }

    /// <summary>flops_per_token × tokens_per_second.</summary>
    [JsonPropertyName("achieved_flops")] public double AchievedFlops { get; init; }

    /// <summary>FLOP/s of a 2048³ matrix product in the compute dtype, measured in the same process: the best of the probes before and between the steps.</summary>
    [JsonPropertyName("gemm_peak_flops")] public double GemmPeakFlops { get; init; }

    /// <summary>Model FLOPs utilisation: achieved_flops / gemm_peak_flops.</summary>
    [JsonPropertyName("mfu")] public double Mfu { get; init; }

    /// <summary>
    /// The median over timed steps of each step's FLOP/s divided by the better of the GEMM probes just before and
    /// after it: less sensitive to a load that changes during the run than <see cref="Mfu"/>.
    /// </summary>
    [JsonPropertyName("mfu_paired_median")] public double MfuPairedMedian { get; init; }

    /// <summary>Every GEMM probe's FLOP/s: before the first step, then after each step.</summary>
    [JsonPropertyName("gemm_probe_flops")] public IReadOnlyList<double> GemmProbeFlops { get; init; } = [];

    /// <summary>Training loss of the last step.</summary>
    [JsonPropertyName("final_loss")] public double FinalLoss { get; init; }

    /// <summary>1-minute load average before and after (the machine may be shared; timings are only comparable at similar load).</summary>
    [JsonPropertyName("load_average")] public IReadOnlyList<double> LoadAverage { get; init; } = [];
}
