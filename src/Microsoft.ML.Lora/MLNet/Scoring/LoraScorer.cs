using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Generation;
using Microsoft.ML.Lora.Tokenization;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.MLNet.Scoring;

/// <summary>
/// Runs one adapter of a (possibly shared) base model on text rows in length-bucketed batches. Thread-safe:
/// calls are serialised on the base (libtorch already uses every core inside one call) and switch the base to
/// this scorer's adapter first, so several PredictionEngines and several models over one base may share it.
/// </summary>
internal sealed class LoraScorer(LoraBaseModel baseModel, string? adapter, Lazy<ExampleEncoder> lazyEncoder, Device device, int batchSize)
{
    private readonly PretrainedModel model = baseModel.Model;
    private readonly object _gate = baseModel.Gate;

    // Read on first use: scoring token ids or saving needs no tokenizer, encoding text does.
    private TextTokenizer tokenizer => baseModel.Tokenizer;

    private ExampleEncoder encoder => lazyEncoder.Value;

    public ExampleEncoder Encoder => encoder;

    /// <summary>Makes this scorer's adapter the active one (call under the gate); a null adapter is a base of the scorer's own.</summary>
    private void Activate()
    {
        if (adapter is not null && (baseModel.Lora.ActiveAdapters is not [var active] || active != adapter))
        {
            baseModel.Lora.SetActiveAdapters(adapter);
        }
        model.eval();
    }

    /// <summary>Head outputs per row (logits for classification, one value for regression).</summary>
    public float[][] Score(IReadOnlyList<(string Text, string? Text2)> rows)
    {
        var examples = rows.Select(r => encoder.Encode(r.Text, r.Text2)).ToArray();
        var results = new float[rows.Count][];
        // Sort by length so each batch pads little; results go back to their rows.
        var order = Enumerable.Range(0, rows.Count).OrderBy(i => examples[i].InputIds.Length).ToArray();
        lock (_gate)
        {
            Activate();
            using var noGrad = no_grad();
            foreach (var chunk in order.Chunk(Math.Max(1, batchSize)))
            {
                using var scope = NewDisposeScope();
                using var batch = TrainingBatch.Collate(chunk.Select(i => examples[i]).ToList(), tokenizer.PadId, device);
                var logits = model.ClassificationLogits(batch.InputIds, batch.AttentionMask).to(ScalarType.Float32).cpu();
                var flat = logits.data<float>().ToArray();
                int width = (int)logits.shape[1];
                for (int j = 0; j < chunk.Length; j++)
                {
                    results[chunk[j]] = flat.AsSpan(j * width, width).ToArray();
                }
            }
        }
        return results;
    }

    /// <summary>Token-weighted mean next-token loss over examples (their loss masks), and the token count.</summary>
    public (double Loss, long Tokens) LanguageModelLoss(IReadOnlyList<TokenizedExample> examples, int size)
    {
        double total = 0;
        long tokens = 0;
        lock (_gate)
        {
            Activate();
            using var noGrad = no_grad();
            foreach (var chunk in examples.Chunk(Math.Max(1, size)))
            {
                using var scope = NewDisposeScope();
                using var batch = TrainingBatch.Collate(chunk, tokenizer.PadId, device, withLossMask: true);
                long count = (long)batch.LossMask!.sum().item<float>();
                total += new CausalLanguageModelObjective().Loss(model, batch).item<float>() * count;
                tokens += count;
            }
        }
        return (tokens == 0 ? double.NaN : total / tokens, tokens);
    }

    /// <summary>
    /// Continuations of prompts (greedy when temperature is 0), stopping at EOS or after maxNewTokens; batched with
    /// left padding and a KV cache. Rows are seeded by <paramref name="seed"/>, so results do not depend on batching.
    /// </summary>
    public string[] Generate(IReadOnlyList<string> prompts, int maxNewTokens, double temperature, int seed)
    {
        var options = new GenerationOptions
        {
            MaxNewTokens = maxNewTokens,
            Temperature = temperature,
            Seed = seed,
            EosTokenIds = encoder.GenerationStopIds(),
            PadTokenId = tokenizer.PadId,
        };
        var encoded = prompts.Select((p, i) => (IReadOnlyList<int>)encoder.EncodeGenerationPrompt(p, $"scoring row {i + 1}")).ToList();
        var results = new string[prompts.Count];
        lock (_gate)
        {
            Activate();
            var generator = new TextGenerator(model, tokenizer);
            // Greedy results do not depend on batching; sampled ones are per-call seeded, so sample one row at a time.
            var groups = temperature > 0 ? encoded.Select((e, i) => new[] { i }) : Enumerable.Range(0, encoded.Count).Chunk(Math.Max(1, batchSize));
            foreach (var group in groups)
            {
                var outputs = generator.Generate(group.Select(i => encoded[i]).ToList(), options);
                for (int j = 0; j < group.Length; j++)
                {
                    results[group[j]] = tokenizer.Decode(outputs[j].TokenIds);
                }
            }
        }
        return results;
    }
}
