using Microsoft.ML.Lora.Models;
using TorchSharp.Modules;

namespace Microsoft.ML.Lora.Training;

/// <summary>Where a run's position is, for checkpoints and resume.</summary>
public sealed record TrainingState
{
    /// <summary>Epochs completed (or the epoch in progress in a mid-epoch checkpoint).</summary>
    public int Epoch { get; init; }
    /// <summary>Optimizer steps taken.</summary>
    public long Step { get; set; }
    /// <summary>Batches of the current epoch already consumed.</summary>
    public int BatchInEpoch { get; set; }
    /// <summary>
    /// The settings that fix the data order and the schedule (rows, batch size, accumulation, epochs, seed, …) of the
    /// run that wrote a checkpoint: a run resumes only a checkpoint of the same run (null in older checkpoints: not checked).
    /// </summary>
    public string? RunKey { get; init; }
}

/// <summary>Saves and restores training checkpoints (trainable weights, optimizer state, position).</summary>
public interface ICheckpointSink
{
    /// <summary>Writes a checkpoint; must never leave a half-written checkpoint behind.</summary>
    void Save(PretrainedModel model, OptimizerHelper optimizer, TrainingState state);

    /// <summary>Restores the latest checkpoint into the model and optimizer, returning its state, or null when there is none.</summary>
    TrainingState? TryResume(PretrainedModel model, OptimizerHelper optimizer);
}
