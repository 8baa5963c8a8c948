namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>How a model's state-dict keys pair with a checkpoint's tensor names.</summary>
/// <param name="CheckpointKeyOf">Model key → checkpoint key, for every key found.</param>
/// <param name="Missing">Model keys the checkpoint lacks.</param>
/// <param name="Unexpected">Checkpoint keys the model has no use for (not known to be ignorable).</param>
/// <param name="Ignored">Checkpoint keys skipped on purpose (see <see cref="CheckpointKeyMatcher.IsKnownUnusedKey"/>).</param>
/// <param name="BasePrefixesAdded">
/// Model prefixes (such as "transformer") that the checkpoint's names lack: checkpoints saved from HF's
/// base classes (GPT2Model, BertModel) omit the base_model_prefix that head classes put in front.
/// </param>
public sealed record CheckpointKeyMatch(
    IReadOnlyDictionary<string, string> CheckpointKeyOf,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> Ignored,
    IReadOnlyList<string> BasePrefixesAdded);

/// <summary>Pairs model keys with checkpoint keys the way HF's <c>from_pretrained</c> tolerates.</summary>
public static class CheckpointKeyMatcher
{
    /// <summary>
    /// Whether a checkpoint key that the model does not have is known to carry nothing the model needs, so it is
    /// skipped instead of reported as unexpected:
    /// GPT-2's causal-mask buffers <c>*.attn.bias</c> and <c>*.attn.masked_bias</c> (old checkpoints store them; the
    /// mask is rebuilt in code), BERT/RoBERTa's <c>embeddings.position_ids</c> buffer (an arange), old Llama
    /// checkpoints' <c>rotary_emb.inv_freq</c> buffers (recomputed from rope_theta), BERT's pretraining heads
    /// <c>cls.predictions.*</c> and <c>cls.seq_relationship.*</c> (HF drops them too when loading a non-pretraining
    /// class), and <c>lm_head.weight</c> when the model ties its output head to the token embedding.
    /// </summary>
    public static bool IsKnownUnusedKey(string key, bool tiedEmbeddings) =>
        key.EndsWith(".attn.bias", StringComparison.Ordinal)
        || key.EndsWith(".attn.masked_bias", StringComparison.Ordinal)
        || key.EndsWith("embeddings.position_ids", StringComparison.Ordinal)
        || key.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)
        || key.StartsWith("cls.predictions.", StringComparison.Ordinal)
        || key.StartsWith("cls.seq_relationship.", StringComparison.Ordinal)
        || (tiedEmbeddings && key == "lm_head.weight");

    /// <summary>Pairs the keys.</summary>
    public static CheckpointKeyMatch Match(IEnumerable<string> modelKeys, IEnumerable<string> checkpointKeys, bool tiedEmbeddings)
    {
        var model = modelKeys.ToList();
        var checkpoint = new HashSet<string>(checkpointKeys, StringComparer.Ordinal);
        var prefixesAdded = model
            .Where(k => k.Contains('.'))
            .GroupBy(k => k[..k.IndexOf('.')], StringComparer.Ordinal)
            .Where(g => !checkpoint.Any(c => c.StartsWith(g.Key + ".", StringComparison.Ordinal))
                        && g.Any(k => checkpoint.Contains(k[(g.Key.Length + 1)..])))
            .Select(g => g.Key)
            .ToHashSet(StringComparer.Ordinal);

        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var key in model)
        {
            var prefix = key.Contains('.') ? key[..key.IndexOf('.')] : "";
            var name = prefixesAdded.Contains(prefix) ? key[(prefix.Length + 1)..] : key;
            if (checkpoint.Contains(name))
            {
                found[key] = name;
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
            [.. unused.Where(k => !IsKnownUnusedKey(k, tiedEmbeddings))],
            [.. unused.Where(k => IsKnownUnusedKey(k, tiedEmbeddings))],
            [.. prefixesAdded.Order(StringComparer.Ordinal)]);
    }
}
