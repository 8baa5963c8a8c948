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

    /// <inheritdoc />
    public override Tensor Loss(PretrainedModel model, TrainingBatch batch)
    {
        using var scope = NewDisposeScope();
        var hidden = model.ForwardHidden(batch.InputIds, batch.AttentionMask);
        long t = hidden.shape[1];
        var logits = model.LanguageModelLogits(hidden[.., ..(int)(t - 1)]).to(ScalarType.Float32);
        var targets = batch.InputIds[.., 1..];
        var perToken = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), targets.reshape(-1), reduction: nn.Reduction.None);
        var mask = batch.LossMask!.reshape(-1);
        return (perToken * mask).sum().div(mask.sum().clamp_min(1)).MoveToOuterDisposeScope();
    }
}
