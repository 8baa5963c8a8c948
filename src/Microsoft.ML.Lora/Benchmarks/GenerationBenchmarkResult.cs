using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>What <see cref="GenerationBenchmark.Run"/> measures (the <c>mllora bench generate</c> flags).</summary>
public sealed record GenerationBenchmarkOptions
{
    /// <summary>A decoder-only <see cref="ModelPresets"/> name.</summary>
    public string Preset { get; init; } = "smollm2-135m";

    /// <summary>Weights in bfloat16 instead of float32.</summary>
    public bool BFloat16 { get; init; }

    /// <summary>Prompt tokens per row (the prefill).</summary>
    public int PromptLength { get; init; } = 128;

    /// <summary>Timed single-token decode steps per round.</summary>
    public int DecodeSteps { get; init; } = 16;

    /// <summary>Rounds of every measurement; the median round counts. Variants are interleaved round by round.</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Rows of the batched decode measurement.</summary>
    public int LargeBatch { get; init; } = 8;

    /// <summary>Also time a rank-<see cref="AdapterRank"/> all-linear adapter, unmerged and merged, against the bare base.</summary>
    public bool AdapterOverhead { get; init; } = true;

    /// <summary>Rank of the adapter of the overhead measurement.</summary>
    public int AdapterRank { get; init; } = 8;

    /// <summary>torch intra-op threads (null keeps the process setting).</summary>
    public int? Threads { get; init; }

    /// <summary>Seed of the weights and token ids.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that cannot run.</summary>
    public void Validate()
    {
        if (!ModelPresets.DecoderNames.Contains(Preset, StringComparer.OrdinalIgnoreCase))
        {
            ModelPresets.Config(Preset);
            throw new ArgumentException($"Preset '{Preset}' is not a decoder-only model; generation benchmarks take one of {string.Join(", ", ModelPresets.DecoderNames)}.", nameof(Preset));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(PromptLength, 1, nameof(PromptLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(DecodeSteps, 1, nameof(DecodeSteps));
        ArgumentOutOfRangeException.ThrowIfLessThan(Rounds, 1, nameof(Rounds));
        ArgumentOutOfRangeException.ThrowIfLessThan(LargeBatch, 1, nameof(LargeBatch));
        ArgumentOutOfRangeException.ThrowIfLessThan(AdapterRank, 1, nameof(AdapterRank));
        if (Threads is { } threads)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1, nameof(Threads));
        }
    }
}

/// <summary>
/// Inference speed of one model shape. JSON names are a contract (<c>mllora bench generate --json</c>): keep them stable.
/// </summary>
public sealed record GenerationBenchmarkResult
{
    /// <summary>The preset's name.</summary>
    [JsonPropertyName("preset")] public required string Preset { get; init; }

    /// <summary>"fp32" or "bf16" weights.</summary>
    [JsonPropertyName("precision")] public required string Precision { get; init; }

    /// <summary>torch intra-op threads.</summary>
    [JsonPropertyName("threads")] public int Threads { get; init; }

    /// <summary>Prompt tokens of the prefill.</summary>
    [JsonPropertyName("prompt_tokens")] public int PromptTokens { get; init; }

    /// <summary>Decode steps per timed round.</summary>
    [JsonPropertyName("decode_steps")] public int DecodeSteps { get; init; }

    /// <summary>Bytes of all weights: what one decode step has to read at least once.</summary>
    [JsonPropertyName("weight_bytes")] public long WeightBytes { get; init; }

    /// <summary>Prompt tokens per second of a batch-1 prefill (KV cache filled, next-token logits computed).</summary>
    [JsonPropertyName("prefill_tokens_per_second")] public double PrefillTokensPerSecond { get; init; }

    /// <summary>Generated tokens per second at batch 1 (one cached forward per token, greedy).</summary>
    [JsonPropertyName("decode_tokens_per_second")] public double DecodeTokensPerSecond { get; init; }

    /// <summary>Rows of the batched decode.</summary>
    [JsonPropertyName("large_batch")] public int LargeBatch { get; init; }

    /// <summary>Generated tokens per second over all rows of the batched decode.</summary>
    [JsonPropertyName("decode_tokens_per_second_batch")] public double DecodeTokensPerSecondBatch { get; init; }

    /// <summary>Bytes per second of a large copy in the same process (read + write).</summary>
    [JsonPropertyName("bandwidth_bytes_per_second")] public double BandwidthBytesPerSecond { get; init; }

    /// <summary>Batch-1 decode bound: bandwidth / weight bytes (every weight read once per token).</summary>
    [JsonPropertyName("bandwidth_bound_tokens_per_second")] public double BandwidthBoundTokensPerSecond { get; init; }

    /// <summary>The same bound for the batched decode: rows × bandwidth / weight bytes.</summary>
    [JsonPropertyName("bandwidth_bound_tokens_per_second_batch")] public double BandwidthBoundTokensPerSecondBatch { get; init; }

    /// <summary>Batch-1 decode tokens/s of the bare base in the adapter comparison (null when not measured).</summary>
    [JsonPropertyName("adapter_base_decode_tokens_per_second")] public double? AdapterBaseDecodeTokensPerSecond { get; init; }

    /// <summary>The same with an unmerged adapter on every linear layer.</summary>
    [JsonPropertyName("adapter_unmerged_decode_tokens_per_second")] public double? AdapterUnmergedDecodeTokensPerSecond { get; init; }

    /// <summary>The same with that adapter merged into the weights.</summary>
    [JsonPropertyName("adapter_merged_decode_tokens_per_second")] public double? AdapterMergedDecodeTokensPerSecond { get; init; }

    /// <summary>Extra decode latency of the merged adapter over the bare base (0.01 = 1%): the median over rounds of merged/bare time within a round, minus 1.</summary>
    [JsonPropertyName("merged_overhead")] public double? MergedOverhead { get; init; }

    /// <summary>Extra decode latency of the unmerged adapter over the bare base.</summary>
    [JsonPropertyName("unmerged_overhead")] public double? UnmergedOverhead { get; init; }

    /// <summary>
    /// Extra batched decode latency of four adapters, one per quarter of the batch, over the same batch through one
    /// adapter (time ratio − 1).
    /// </summary>
    [JsonPropertyName("mixed_adapter_overhead")] public double? MixedAdapterOverhead { get; init; }

    /// <summary>Extra prefill latency of the merged adapter over the bare base.</summary>
    [JsonPropertyName("merged_prefill_overhead")] public double? MergedPrefillOverhead { get; init; }

    /// <summary>Extra prefill latency of the unmerged adapter over the bare base.</summary>
    [JsonPropertyName("unmerged_prefill_overhead")] public double? UnmergedPrefillOverhead { get; init; }

    /// <summary>1-minute load average before and after.</summary>
    [JsonPropertyName("load_average")] public IReadOnlyList<double> LoadAverage { get; init; } = [];
}
