using System.Text.Json;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using TorchSharp.Modules;

namespace Microsoft.ML.Lora.Training;

/// <summary>
/// Checkpoints in a folder: <c>checkpoint-{step}/</c> holding <c>adapter.safetensors</c> (trainable tensors),
/// <c>optimizer.bin</c> (AdamW state), <c>rng_state.bin</c> (torch's CPU generator, for dropout) and <c>state.json</c>
/// (epoch, step, batch within the epoch — with the seed, the data order — and the run's settings). Each is written
/// into a temporary folder and renamed into place, so a run killed at any moment leaves only complete checkpoints
/// (a temporary folder left by a killed run is removed by the next save). Only the newest <see cref="Keep"/> are kept.
/// </summary>
public sealed class AdapterCheckpointDirectory(string directory, bool resume = true) : ICheckpointSink
{
    private const string Prefix = "checkpoint-", AdapterFile = "adapter.safetensors", OptimizerFile = "optimizer.bin", StateFile = "state.json",
        RandomFile = "rng_state.bin", TempPrefix = ".tmp-";

    /// <summary>How many checkpoints to keep.</summary>
    public int Keep { get; init; } = 2;

    /// <inheritdoc />
    public void Save(PretrainedModel model, OptimizerHelper optimizer, TrainingState state)
    {
        Directory.CreateDirectory(directory);
        var final = Path.Combine(directory, Prefix + state.Step);
        foreach (var stale in Directory.GetDirectories(directory, TempPrefix + Prefix + "*"))
        {
            Directory.Delete(stale, recursive: true);
        }
        var temp = Path.Combine(directory, $"{TempPrefix}{Prefix}{state.Step}-{Environment.ProcessId}");
        Directory.CreateDirectory(temp);
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => new KeyValuePair<string, TorchSharp.torch.Tensor>(p.name, p.parameter));
        SafetensorsWriter.Write(Path.Combine(temp, AdapterFile), trainable);
        optimizer.save_state_dict(Path.Combine(temp, OptimizerFile));
        using (var random = TorchSharp.torch.random.get_rng_state())
        {
            File.WriteAllBytes(Path.Combine(temp, RandomFile), random.data<byte>().ToArray());
        }
        File.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(state));
        if (Directory.Exists(final))
        {
            Directory.Delete(final, recursive: true);
        }
        Directory.Move(temp, final);
        foreach (var old in Completed().Skip(Keep))
        {
            Directory.Delete(old.Path, recursive: true);
        }
    }

    /// <inheritdoc />
    public TrainingState? TryResume(PretrainedModel model, OptimizerHelper optimizer)
    {
        if (!resume || Completed().FirstOrDefault() is not { Path: { } latest })
        {
            return null;
        }
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (var file = SafetensorsFile.Open(Path.Combine(latest, AdapterFile)))
        {
            foreach (var entry in file.Entries)
            {
                if (!parameters.TryGetValue(entry.Name, out var target))
                {
                    throw new InvalidDataException($"{file.FilePath}: checkpoint tensor '{entry.Name}' does not exist in this model; the checkpoint belongs to a different run configuration.");
                }
                file.ReadInto(entry.Name, target);
            }
        }
        optimizer.load_state_dict(Path.Combine(latest, OptimizerFile));
        var randomFile = Path.Combine(latest, RandomFile);
        if (File.Exists(randomFile))
        {
            var bytes = File.ReadAllBytes(randomFile);
            using var random = TorchSharp.torch.tensor(bytes, [bytes.LongLength], TorchSharp.torch.ScalarType.Byte);
            TorchSharp.torch.random.set_rng_state(random);
        }
        return JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(Path.Combine(latest, StateFile)))
            ?? throw new InvalidDataException($"{latest}: {StateFile} is empty.");
    }

    /// <summary>Completed checkpoints, newest first.</summary>
    private IEnumerable<(long Step, string Path)> Completed() =>
        !Directory.Exists(directory)
            ? []
            : Directory.GetDirectories(directory, Prefix + "*")
                .Select(d => (Ok: long.TryParse(Path.GetFileName(d)[Prefix.Length..], out var s), Step: s, Path: d))
                .Where(x => x.Ok && File.Exists(Path.Combine(x.Path, StateFile)))
                .OrderByDescending(x => x.Step)
                .Select(x => (x.Step, x.Path));
}
