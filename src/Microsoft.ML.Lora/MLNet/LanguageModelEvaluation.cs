using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>Mean next-token loss of a causal language model on a data set (response tokens only for instruction data).</summary>
public sealed record LanguageModelMetrics(double Loss, double Perplexity, long Tokens);

public sealed partial class LoraFineTuneTransformer
{
    /// <summary>
    /// Token-weighted mean cross-entropy (and perplexity) of the model on <paramref name="data"/>, read with the
    /// prompt/response (or text) columns the model was trained with; loss counts response tokens only.
    /// </summary>
    public LanguageModelMetrics EvaluateLanguageModel(IDataView data)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Manifest.Task != LoraTask.CausalLanguageModel)
        {
            throw new InvalidOperationException($"EvaluateLanguageModel needs a causal language model; this one is {Manifest.Task}. Use the ML.NET evaluator of its task.");
        }
        var options = new LoraFineTuneOptions
        {
            Task = LoraTask.CausalLanguageModel,
            TextColumnName = Manifest.TextColumn,
            PromptColumnName = Manifest.PromptColumn,
            ResponseColumnName = Manifest.ResponseColumn,
            MessagesColumnName = Manifest.MessagesColumn,
        };
        var rows = TrainingDataReader.Read(data, options, "evaluation");
        var examples = rows.Texts.Select((t, i) => _scorer.Encoder.EncodeLanguageModelRow(t, rows.Responses?[i], $"column '{Manifest.MessagesColumn}' row {i + 1}")).ToList();
        var (loss, tokens) = _scorer.LanguageModelLoss(examples, Manifest.ScoringBatchSize);
        return new LanguageModelMetrics(loss, Math.Exp(loss), tokens);
    }
}
