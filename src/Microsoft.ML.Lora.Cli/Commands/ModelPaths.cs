using Microsoft.ML.Lora.Checkpoints;

namespace MlLora.Cli.Commands;

/// <summary>
/// Checks a model path given on the command line before loading it: a llama2.c checkpoint, or a folder without
/// config.json, gets the exact <c>mllora convert llama2c</c> command that makes a Hugging Face folder of it.
/// </summary>
internal static class ModelPaths
{
    /// <summary>A Hugging Face model folder (config.json, safetensors weights, tokenizer).</summary>
    public static string RequireFolder(string flag, string path)
    {
        if (File.Exists(path))
        {
            throw new ArgumentException(IsLlama2c(path)
                ? $"{flag} '{path}' is a llama2.c checkpoint, not a Hugging Face model folder. Convert it first: {ConvertCommand(path)}, then pass {flag} DIR."
                : $"{flag} '{path}' is a file; give a Hugging Face model folder (config.json, model.safetensors, tokenizer files).");
        }
        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException($"{flag} '{path}': no such model folder.");
        }
        if (!File.Exists(Path.Combine(path, HfConfigFile.FileName)))
        {
            var checkpoint = Directory.EnumerateFiles(path, "*.bin").Order(StringComparer.Ordinal).FirstOrDefault(IsLlama2c);
            throw new ArgumentException($"{flag} '{path}' has no {HfConfigFile.FileName}, so it is not a Hugging Face model folder. " +
                (checkpoint is null
                    ? $"For a llama2.c checkpoint, run: {ConvertCommand("MODEL.bin")}."
                    : $"To use the llama2.c checkpoint in it, run: {ConvertCommand(checkpoint)}, then pass {flag} DIR."));
        }
        return path;
    }

    /// <summary>A model zip, or a Hugging Face folder (checked as <see cref="RequireFolder"/>).</summary>
    public static void RequireZipOrFolder(string flag, string path)
    {
        if (Directory.Exists(path) || IsLlama2c(path))
        {
            RequireFolder(flag, path);
        }
        else if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{flag} '{path}' is neither a model zip nor a model folder.", path);
        }
    }

    private static bool IsLlama2c(string path)
    {
        if (!File.Exists(path) || !path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        try
        {
            Llama2cImporter.ReadConfig(path);
            return true;
        }
        catch (Exception e) when (e is CheckpointFormatException or InvalidDataException or IOException)
        {
            return false;
        }
    }

    /// <summary>The conversion command for a checkpoint, with the llama2.c tokenizer beside it when there is one.</summary>
    private static string ConvertCommand(string checkpoint)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(checkpoint))!;
        var tokenizer = Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "tok*.bin").Order(StringComparer.Ordinal).FirstOrDefault() ?? "TOKENIZER.bin"
            : "TOKENIZER.bin";
        return $"mllora convert llama2c --checkpoint {checkpoint} --tokenizer {tokenizer} --out DIR";
    }
}
