using System.Text.Json.Serialization;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Benchmarks;

/// <summary>Forward and decode throughput of one architecture; JSON names are a contract (<c>mllora bench models --json</c>).</summary>
public sealed record ArchitectureBenchmarkResult
{
    /// <summary>The preset measured.</summary>
    [JsonPropertyName("preset")] public required string Preset { get; init; }

    /// <summary>HF model_type.</summary>
    [JsonPropertyName("model_type")] public required string ModelType { get; init; }

    /// <summary>Number of parameters.</summary>
    [JsonPropertyName("parameters")] public long Parameters { get; init; }

    /// <summary>Tokens per forward pass.</summary>
    [JsonPropertyName("seq")] public int Seq { get; init; }

    /// <summary>Tokens per second of a full forward pass (hidden states and, for decoders, LM logits).</summary>
    [JsonPropertyName("forward_tokens_per_second")] public double ForwardTokensPerSecond { get; init; }

    /// <summary>Cached single-token decode steps per second (batch 1), or null for encoders.</summary>
    [JsonPropertyName("decode_tokens_per_second")] public double? DecodeTokensPerSecond { get; init; }

    /// <summary>torch intra-op threads.</summary>
    [JsonPropertyName("threads")] public int Threads { get; init; }
}

/// <summary>
/// Every architecture's forward tokens/s at a sequence length and cached decode tokens/s, on randomly initialised
/// models of real shapes (<c>mllora bench models</c>), through the models' <see cref="ModelBenchmarks"/>.
/// </summary>
public static class ArchitectureBenchmark
{
    /// <summary>One preset per architecture: Llama, Qwen2 (Llama body with q/k/v biases), GPT-2, BERT.</summary>
    public static IReadOnlyList<string> DefaultPresets { get; } = ["smollm2-135m", "qwen2.5-0.5b", "gpt2", "bert-base"];

    /// <summary>Measures each preset in turn (each model is freed before the next is built).</summary>
    public static IReadOnlyList<ArchitectureBenchmarkResult> Run(IEnumerable<string>? presets = null, int sequenceLength = 256, int? threads = null, Action<string>? log = null)
    {
        TorchDevices.EnsureInitialized();
        var results = new List<ArchitectureBenchmarkResult>();
        foreach (var preset in presets ?? DefaultPresets)
        {
            manual_seed(1);
            using var model = ModelPresets.Create(preset);
            var measured = ModelBenchmarks.Measure(model, new ModelBenchmarkOptions { SequenceLength = sequenceLength, Threads = threads });
            log?.Invoke($"{preset}: {measured.Summary}");
            results.Add(new ArchitectureBenchmarkResult
            {
                Preset = preset,
                ModelType = measured.ModelType,
                Parameters = measured.Parameters,
                Seq = measured.SequenceLength,
                ForwardTokensPerSecond = measured.ForwardTokensPerSecond,
                DecodeTokensPerSecond = measured.DecodeTokensPerSecond,
                Threads = measured.Threads,
            });
        }
        return results;
    }
}
