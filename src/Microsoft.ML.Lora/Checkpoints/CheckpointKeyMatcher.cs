using Microsoft.ML.Lora.Models;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>How a model's state-dict keys pair with a checkpoint's tensor names.</summary>
/// <param name="CheckpointKeyOf">Model key → checkpoint key, for every key found.</param>
/// <param name="Missing">Model keys the checkpoint lacks.</param>
/// <param name="Unexpected">Checkpoint keys the model has no use for (not known to be ignorable).</param>
/// <param name="Ignored">Checkpoint keys skipped on purpose (see <see cref="CheckpointKeyMatcher.IsKnownUnusedKey"/>).</param>
/// <param name="BasePrefixAdded">
/// The model's base prefix (such as "transformer") when the checkpoint's names lack it: checkpoints saved from HF's
/// base classes (GPT2Model, BertModel) omit the base_model_prefix that head classes put in front. Null otherwise.
/// </param>
public sealed record CheckpointKeyMatch(
    IReadOnlyDictionary<string, string> CheckpointKeyOf,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> Ignored,
    string? BasePrefixAdded);

/// <summary>What the key matcher needs to know about the model.</summary>
/// <param name="BaseModelPrefix">The body's prefix ("model", "transformer", "bert", ...).</param>
/// <param name="TiedEmbeddings">The output head reuses the token embedding.</param>
/// <param name="IsEncoder">A BERT-family encoder (pretraining heads in its checkpoints are unused).</param>
public sealed record CheckpointKeyContext(string BaseModelPrefix, bool TiedEmbeddings, bool IsEncoder)
{
    /// <summary>The context of a model.</summary>
    public static CheckpointKeyContext Of(PretrainedModel model) =>
        new(model.BaseModelPrefix, Checkpoints.TiedEmbeddings.In(model.Config), !model.IsCausalLanguageModel);
}

/// <summary>Pairs model keys with checkpoint keys the way HF's <c>from_pretrained</c> tolerates.</summary>
public static class CheckpointKeyMatcher
{
    // Pretraining heads of encoder checkpoints: BERT (BertForPreTraining), RoBERTa (RobertaForMaskedLM),
    // DistilBERT (DistilBertForMaskedLM). HF drops them too when loading a sequence classifier.
    private static readonly string[] EncoderPretrainingHeads = ["cls.", "lm_head.", "vocab_transform.", "vocab_layer_norm.", "vocab_projector."];

    /// <summary>
    /// Whether a checkpoint key that the model does not have is known to carry nothing the model needs, so it is
    /// skipped instead of reported as unexpected:
    /// GPT-2's causal-mask buffers <c>*.attn.bias</c> and <c>*.attn.masked_bias</c> (old checkpoints store them; the
    /// mask is rebuilt in code), BERT/RoBERTa's <c>embeddings.position_ids</c> buffer (an arange), old Llama
    /// checkpoints' <c>rotary_emb.inv_freq</c> buffers (recomputed from rope_theta), <c>lm_head.weight</c> when the
    /// model ties its output head to the token embedding, and for encoders the pretraining heads
    /// (<c>cls.*</c>, RoBERTa's <c>lm_head.*</c>, DistilBERT's <c>vocab_transform/vocab_layer_norm/vocab_projector.*</c>).
    /// </summary>
    public static bool IsKnownUnusedKey(string key, CheckpointKeyContext context) =>
        key.EndsWith(".attn.bias", StringComparison.Ordinal)
        || key.EndsWith(".attn.masked_bias", StringComparison.Ordinal)
        || key.EndsWith("embeddings.position_ids", StringComparison.Ordinal)
        || key.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)
        || (context.TiedEmbeddings && key == "lm_head.weight")
        || (context.IsEncoder && EncoderPretrainingHeads.Any(h => key.StartsWith(h, StringComparison.Ordinal)));

    /// <summary>Pairs the keys.</summary>
    public static CheckpointKeyMatch Match(IEnumerable<string> modelKeys, IEnumerable<string> checkpointKeys, CheckpointKeyContext context)
    {
        var model = modelKeys.ToList();
        var checkpoint = new HashSet<string>(checkpointKeys, StringComparer.Ordinal);
        var prefix = context.BaseModelPrefix + ".";
        bool addPrefix = !checkpoint.Any(c => c.StartsWith(prefix, StringComparison.Ordinal))
            && model.Any(k => k.StartsWith(prefix, StringComparison.Ordinal) && Find(k[prefix.Length..], checkpoint) is not null);

        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var key in model)
        {
            var name = addPrefix && key.StartsWith(prefix, StringComparison.Ordinal) ? key[prefix.Length..] : key;
            if (Find(name, checkpoint) is { } stored)
            {
                found[key] = stored;
            }
            else
            {
                missing.Add(key);
            }
        }
        var used = found.Values.ToHashSet(StringComparer.Ordinal);
        var unused = checkpoint.Where(k => !used.Contains(k)).Order(StringComparer.Ordinal).ToList();
        return new CheckpointKeyMatch(
            found,
            missing,
            [.. unused.Where(k => !IsKnownUnusedKey(k, context))],
            [.. unused.Where(k => IsKnownUnusedKey(k, context))],
            addPrefix ? context.BaseModelPrefix : null);
    }

    /// <summary>
    /// The checkpoint's name for a key: the key itself, or its legacy TensorFlow-era spelling (LayerNorm
    /// <c>gamma</c>/<c>beta</c> for <c>weight</c>/<c>bias</c>, as in the original BERT checkpoints, which HF renames on load).
    /// </summary>
    private static string? Find(string key, HashSet<string> checkpoint)
    {
        if (checkpoint.Contains(key))
        {
            return key;
        }
        string? legacy = key.EndsWith(".weight", StringComparison.Ordinal) ? key[..^".weight".Length] + ".gamma"
            : key.EndsWith(".bias", StringComparison.Ordinal) ? key[..^".bias".Length] + ".beta"
            : null;
        return legacy is not null && checkpoint.Contains(legacy) ? legacy : null;
    }
}
