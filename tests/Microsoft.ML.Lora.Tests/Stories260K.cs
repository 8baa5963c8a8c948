using Microsoft.ML.Lora.Checkpoints;

namespace Microsoft.ML.Lora.Tests;

/// <summary>
/// The real pretrained stories260K Llama from ../shared/data, converted once per test run into a Hugging Face
/// folder (config.json, model.safetensors, tokenizer.model) under the temp folder.
/// </summary>
public static class Stories260K
{
    private static readonly Lazy<string> Converted = new(Convert, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The converted folder (read-only: copy it before changing anything in it).</summary>
    public static string Folder => Converted.Value;

    /// <summary>A private copy of the converted folder under <paramref name="parent"/>.</summary>
    public static string CopyTo(string parent, string name = "stories260K")
    {
        var target = Path.Combine(parent, name);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(Folder))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }
        return target;
    }

    private static string Convert()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"lora-tests-stories260K-{Environment.ProcessId}");
        Llama2cImporter.Convert(SharedData.PathOf("models/stories260K/stories260K.bin"), folder, SharedData.PathOf("models/stories260K/tok512.bin"));
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS to clean up.
            }
        };
        return folder;
    }
}
