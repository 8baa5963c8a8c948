namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// A checkpoint exists but only in a format this library refuses to read: PyTorch pickles
/// (<c>pytorch_model.bin</c>, <c>*.pt</c>, <c>*.pth</c>, <c>*.ckpt</c>) can run arbitrary code when loaded,
/// so they are never unpickled. The message says how to convert the checkpoint to safetensors.
/// </summary>
public sealed class UnsupportedCheckpointFormatException(string path, IReadOnlyList<string> files)
    : NotSupportedException(
        $"{path}: only safetensors checkpoints are supported, but this holds only PyTorch pickle weights ({string.Join(", ", files)}). " +
        "Pickles are never loaded because they can run arbitrary code. Convert once with Python: " +
        $"python -c \"from transformers import AutoModel; AutoModel.from_pretrained('{ModelFolderOf(path)}').save_pretrained('OUT', safe_serialization=True)\" " +
        "(use the AutoModelFor... class matching the model to keep its head), then load OUT.")
{
    /// <summary>The folder or file that was refused.</summary>
    public string CheckpointPath { get; } = path;

    /// <summary>The pickle files found.</summary>
    public IReadOnlyList<string> PickleFiles { get; } = files;

    // from_pretrained takes the model folder, not the weights file.
    private static string ModelFolderOf(string path) => Directory.Exists(path) ? path : Path.GetDirectoryName(path) ?? path;
}
