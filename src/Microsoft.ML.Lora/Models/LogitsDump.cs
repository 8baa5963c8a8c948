using System.Globalization;
using Microsoft.ML.Lora.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>
/// A reference hook for comparing numerics with other implementations (HF transformers, llama.cpp): the
/// language-model logits of given token ids, as float32 [1, T, vocab], written to a safetensors file under
/// the name <see cref="TensorName"/> (the <c>mllora logits</c> verb).
/// </summary>
public static class LogitsDump
{
    /// <summary>The tensor's name in the written file.</summary>
    public const string TensorName = "logits";

    /// <summary>The --dtype spellings understood by <see cref="ParseComputeDtype"/>.</summary>
    public static readonly IReadOnlyList<string> DtypeNames = ["fp32", "float32", "bf16", "bfloat16", "fp16", "float16"];

    /// <summary>
    /// Logits [1, T, vocab] in float32 for <paramref name="tokenIds"/>, computed with weights and activations in
    /// <paramref name="computeDtype"/>. A model stored in another dtype is converted to it in place first
    /// (bf16 weights upcast to fp32 are exact; the reverse rounds), and it is left in eval mode.
    /// </summary>
    /// <exception cref="LanguageModelHeadNotSupportedException">The model is an encoder.</exception>
    /// <exception cref="ModelInputException">The ids are empty, out of the vocabulary or too many.</exception>
    public static Tensor Compute(PretrainedModel model, IReadOnlyList<int> tokenIds, ScalarType computeDtype = ScalarType.Float32)
    {
        if (!model.IsCausalLanguageModel)
        {
            throw new LanguageModelHeadNotSupportedException(model.Config.ModelType, "logits");
        }
        if (computeDtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
        {
            throw new ArgumentException($"Logits are computed in float32, bfloat16 or float16, not {computeDtype}.", nameof(computeDtype));
        }
        if (model.parameters().Any(p => p.is_floating_point() && p.dtype != computeDtype))
        {
            model.to(computeDtype);
        }
        model.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = model.parameters().First().device;
        var ids = tensor(tokenIds.Select(t => (long)t).ToArray(), [1, tokenIds.Count], device: device);
        var logits = model.LanguageModelLogits(model.ForwardHidden(ids));
        return logits.to(ScalarType.Float32).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Computes the logits (see <see cref="Compute"/>) and writes them to a safetensors file at <paramref name="path"/>,
    /// with the token ids, dtype and model type in its metadata.
    /// </summary>
    public static void Write(string path, PretrainedModel model, IReadOnlyList<int> tokenIds, ScalarType computeDtype = ScalarType.Float32)
    {
        using var logits = Compute(model, tokenIds, computeDtype);
        var metadata = new Dictionary<string, string>
        {
            ["token_ids"] = string.Join(",", tokenIds.Select(t => t.ToString(CultureInfo.InvariantCulture))),
            ["compute_dtype"] = computeDtype.ToString(),
            ["model_type"] = model.Config.ModelType,
        };
        SafetensorsWriter.Write(path, [new KeyValuePair<string, Tensor>(TensorName, logits)], metadata);
    }

    /// <summary>Parses a --dtype value (fp32, bf16, fp16 or their float32/bfloat16/float16 spellings).</summary>
    /// <exception cref="ArgumentException">The text names no supported dtype; the message lists them.</exception>
    public static ScalarType ParseComputeDtype(string text) => text.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp16" or "float16" => ScalarType.Float16,
        _ => throw new ArgumentException($"Unknown dtype '{text}'; use one of {string.Join(", ", DtypeNames)}.", nameof(text)),
    };

    /// <summary>Parses comma-separated token ids ("1,5,9").</summary>
    /// <exception cref="ArgumentException">An entry is not an integer, or there are none; the message names it.</exception>
    public static int[] ParseTokenIds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || parts.All(string.IsNullOrEmpty))
        {
            throw new ArgumentException("No token ids given.", nameof(text));
        }
        return [.. parts.Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id)
            ? id
            : throw new ArgumentException($"Token id '{p}' is not an integer.", nameof(text)))];
    }
}
