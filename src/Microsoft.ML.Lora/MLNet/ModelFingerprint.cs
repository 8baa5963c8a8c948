using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Lora.Models;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>
/// A cheap identity of a base model, recorded in saved zips to detect a different or modified base.
/// For a folder: SHA-256 over config.json and, per weight file, its name, size, safetensors header and
/// 64 evenly spaced 4 KiB samples (≈ 256 KiB read per file whatever its size, well under a second for 1 GB).
/// A change confined to unsampled bytes with an identical header goes unnoticed; renaming, resizing,
/// re-quantising or retraining a model changes the header or the samples.
/// </summary>
public static class ModelFingerprint
{
    private const int Samples = 64, SampleBytes = 4096;

    /// <summary>The fingerprint of a Hugging Face model folder.</summary>
    public static string OfFolder(string folder)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var config = Path.Combine(folder, "config.json");
        if (File.Exists(config))
        {
            sha.AppendData(File.ReadAllBytes(config));
        }
        foreach (var file in Directory.GetFiles(folder, "*.safetensors").Order(StringComparer.Ordinal))
        {
            AppendFile(sha, file);
        }
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>The fingerprint of an in-memory model: its config and a sample of every tensor.</summary>
    public static string OfModel(PretrainedModel model)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(model.Config, model.Config.GetType())));
        foreach (var (name, tensor) in model.state_dict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (name.Contains(".lora_", StringComparison.Ordinal))
            {
                continue;
            }
            sha.AppendData(Encoding.UTF8.GetBytes($"{name}:{tensor.dtype}:{string.Join('x', tensor.shape)};"));
            using var scope = NewDisposeScope();
            var flat = tensor.detach().reshape(-1).to(ScalarType.Float32);
            long n = flat.shape[0], take = Math.Min(n, 256);
            sha.AppendData(flat[..(int)take].cpu().bytes);
            sha.AppendData(flat[(int)(n - take)..].cpu().bytes);
        }
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    private static void AppendFile(IncrementalHash sha, string file)
    {
        using var stream = File.OpenRead(file);
        long length = stream.Length;
        sha.AppendData(Encoding.UTF8.GetBytes($"{Path.GetFileName(file)}:{length};"));
        var buffer = new byte[SampleBytes];
        // The safetensors header (names, dtypes, shapes, offsets) in full, up to 1 MiB.
        var lengthBytes = new byte[8];
        if (length >= 8 && stream.Read(lengthBytes) == 8)
        {
            long headerLength = Math.Clamp(BitConverter.ToInt64(lengthBytes), 0, Math.Min(1 << 20, length - 8));
            var header = new byte[headerLength];
            stream.ReadExactly(header);
            sha.AppendData(lengthBytes);
            sha.AppendData(header);
        }
        for (int i = 0; i < Samples && length > 0; i++)
        {
            stream.Position = length * i / Samples;
            int read = stream.Read(buffer, 0, (int)Math.Min(SampleBytes, length - stream.Position));
            sha.AppendData(buffer, 0, read);
        }
    }
}
