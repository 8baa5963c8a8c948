using System.Text.Json;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models.Llama;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests;

/// <summary>Small randomly initialised models written as Hugging Face folders, for fast end-to-end tests.</summary>
public static class TinyModels
{
    /// <summary>A tiny Llama config (GQA: 4 heads, 2 KV heads).</summary>
    public static LlamaConfig LlamaConfig(int vocab) => new()
    {
        VocabSize = vocab,
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        MaxPositionEmbeddings = 256,
        RmsNormEps = 1e-5,
        TieWordEmbeddings = true,
        TorchDtype = "float32",
    };

    /// <summary>
    /// Writes a random tiny Llama (seeded) with the GPT-2 tokenizer files from ../shared/data into
    /// <paramref name="folder"/> and returns it.
    /// </summary>
    public static string WriteLlamaWithGpt2Tokenizer(string folder, int seed = 1)
    {
        Directory.CreateDirectory(folder);
        var tokenizerDir = SharedData.PathOf("tokenizers/gpt2");
        foreach (var file in new[] { "vocab.json", "merges.txt" })
        {
            File.Copy(Path.Combine(tokenizerDir, file), Path.Combine(folder, file), overwrite: true);
        }
        var config = LlamaConfig(50257);
        config.BosTokenId = 50256;
        config.EosTokenId = 50256;
        manual_seed(seed);
        using var model = new LlamaForCausalLM(config);
        File.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(config));
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), model.state_dict());
        return folder;
    }
}

/// <summary>A temporary folder deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>Creates a fresh folder under the system temp path.</summary>
    public TempDirectory() => Directory.CreateDirectory(Path);

    /// <summary>The folder.</summary>
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "lora-tests-" + Guid.NewGuid().ToString("N")[..12]);

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A memory-mapped file may still be open on some platforms; the OS cleans temp eventually.
        }
    }
}
