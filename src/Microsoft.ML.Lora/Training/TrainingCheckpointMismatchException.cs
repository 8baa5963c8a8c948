namespace Microsoft.ML.Lora.Training;

/// <summary>
/// The checkpoint folder holds a checkpoint of a different run (other data, batch size, accumulation, epochs, seed,
/// learning rate or trainable parameters): resuming it would not continue that run, so training does not start.
/// </summary>
public sealed class TrainingCheckpointMismatchException(long step, string checkpointRun, string thisRun)
    : Exception($"The checkpoint at step {step} was written by a different run ({checkpointRun}) than this one ({thisRun}): " +
        "use the same settings and data to resume it, or another --checkpoint-dir (CheckpointDirectory) to start afresh.")
{
    /// <summary>The checkpoint's step.</summary>
    public long Step { get; } = step;

    /// <summary>The settings of the run that wrote the checkpoint.</summary>
    public string CheckpointRun { get; } = checkpointRun;

    /// <summary>The settings of this run.</summary>
    public string ThisRun { get; } = thisRun;
}
