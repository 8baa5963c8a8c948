using Microsoft.ML.Lora.Checkpoints;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

/// <summary>Edits of saved checkpoint folders, to build the layouts other tools write.</summary>
public static class CheckpointEdits
{
    /// <summary>Rewrites a folder's weights as one model.safetensors without the tensors <paramref name="drop"/> selects.</summary>
    public static void RemoveTensors(string folder, Func<string, bool> drop)
    {
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> kept;
        using (var checkpoint = SafetensorsCheckpoint.Open(folder))
        {
            kept = checkpoint.ReadAll().Where(kv => !drop(kv.Key)).ToDictionary();
        }
        SafetensorsWriter.Write(Path.Combine(folder, SafetensorsCheckpoint.SingleFileName), kept);
    }
}
