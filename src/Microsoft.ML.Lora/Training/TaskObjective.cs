using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Training;

/// <summary>The loss (and validation metric) of a task on a batch.</summary>
public abstract class TaskObjective
{
    /// <summary>Mean loss over the batch (a scalar tensor attached to the graph).</summary>
    public abstract Tensor Loss(PretrainedModel model, TrainingBatch batch);

    /// <summary>Whether batches need a language-modelling loss mask.</summary>
    public virtual bool NeedsLossMask => false;

    /// <summary>Number of correct predictions in a batch (classification), for validation accuracy.</summary>
    public virtual long Correct(PretrainedModel model, TrainingBatch batch) => 0;

    /// <summary>Whether <see cref="Correct"/> is meaningful.</summary>
    public virtual bool HasAccuracy => false;

    /// <summary>
    /// How much a batch's mean loss counts when batches are combined (gradient accumulation, validation): its rows.
    /// </summary>
    public virtual double Weight(IReadOnlyList<TokenizedExample> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return rows.Count;
    }

    /// <summary>Loss and correct predictions of a batch from one forward pass (validation).</summary>
    public virtual (Tensor Loss, long Correct) Evaluate(PretrainedModel model, TrainingBatch batch) => (Loss(model, batch), 0);

    /// <summary>The objective for a task.</summary>
    public static TaskObjective For(LoraTask task) => task switch
    {
        LoraTask.BinaryClassification or LoraTask.MulticlassClassification => new ClassificationObjective(),
        LoraTask.Regression => new RegressionObjective(),
        LoraTask.CausalLanguageModel => new CausalLanguageModelObjective(),
        _ => throw new ArgumentOutOfRangeException(nameof(task), task, "Unknown task."),
    };
}

/// <summary>Cross-entropy over the classification head's logits.</summary>
public sealed class ClassificationObjective : TaskObjective
{
    /// <inheritdoc />
    public override Tensor Loss(PretrainedModel model, TrainingBatch batch)
    {
        using var scope = NewDisposeScope();
        var logits = model.ClassificationLogits(batch.InputIds, batch.AttentionMask).to(ScalarType.Float32);
        return nn.functional.cross_entropy(logits, batch.Labels.to(ScalarType.Int64)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override bool HasAccuracy => true;

    /// <inheritdoc />
    public override long Correct(PretrainedModel model, TrainingBatch batch)
    {
        using var scope = NewDisposeScope();
        var logits = model.ClassificationLogits(batch.InputIds, batch.AttentionMask);
        return logits.argmax(-1).eq(batch.Labels.to(ScalarType.Int64)).sum().item<long>();
    }

    /// <inheritdoc />
    public override (Tensor Loss, long Correct) Evaluate(PretrainedModel model, TrainingBatch batch)
    {
        using var scope = NewDisposeScope();
        var logits = model.ClassificationLogits(batch.InputIds, batch.AttentionMask).to(ScalarType.Float32);
        var labels = batch.Labels.to(ScalarType.Int64);
        long correct = logits.argmax(-1).eq(labels).sum().item<long>();
        return (nn.functional.cross_entropy(logits, labels).MoveToOuterDisposeScope(), correct);
    }
}

/// <summary>Mean squared error of a one-output head.</summary>
public sealed class RegressionObjective : TaskObjective
{
    /// <inheritdoc />
    public override Tensor Loss(PretrainedModel model, TrainingBatch batch)
    {
        using var scope = NewDisposeScope();
        var prediction = model.ClassificationLogits(batch.InputIds, batch.AttentionMask).to(ScalarType.Float32).squeeze(-1);
        return nn.functional.mse_loss(prediction, batch.Labels).MoveToOuterDisposeScope();
    }
}

/// <summary>Next-token cross-entropy on the tokens the loss mask selects (the response).</summary>
public sealed class CausalLanguageModelObjective : TaskObjective
{
    /// <inheritdoc />
    public override bool NeedsLossMask => true;

    /// <summary>A batch counts by its loss tokens (the targets its loss mask selects), so the mean is over tokens.</summary>
    public override double Weight(IReadOnlyList<TokenizedExample> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return rows.Sum(LossTokens);
    }

    /// <summary>Next-token targets of a row that carry loss, as <see cref="TrainingBatch.Collate"/> marks them.</summary>
    public static int LossTokens(TokenizedExample row)
    {
        ArgumentNullException.ThrowIfNull(row);
        int n = row.InputIds.Length, count = 0;
        for (int j = row.LossMask is null ? Math.Max(1, row.LossStart) : 1; j < n; j++)
        {
            count += row.LossMask is null || row.LossMask[j] ? 1 : 0;
        }
        return count;
    }

    /// <inheritdoc />
    public override Tensor Loss(PretrainedModel model, TrainingBatch batch)
    {
        using var scope = NewDisposeScope();
        var hidden = model.ForwardHidden(batch.InputIds, batch.AttentionMask);
        long t = hidden.shape[1];
        var predicting = hidden[.., ..(int)(t - 1)];
        var targets = batch.InputIds[.., 1..].reshape(-1);
        var mask = batch.LossMask!.reshape(-1);
        if (model.PlainLanguageModelHeadWeight is { } head && head.dtype == hidden.dtype)
        {
            // The same mean over the masked tokens, without materialising the batch's logits (see LinearCrossEntropy).
            var rowWeights = mask.div(mask.sum().clamp_min(1));
            return LinearCrossEntropy.Loss(predicting.reshape(-1, hidden.shape[^1]), head, targets, rowWeights).MoveToOuterDisposeScope();
        }
        var logits = model.LanguageModelLogits(predicting).to(ScalarType.Float32);
        var perToken = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets, reduction: nn.Reduction.None);
        return (perToken * mask).sum().div(mask.sum().clamp_min(1)).MoveToOuterDisposeScope();
    }
}
