using System.Buffers.Binary;
using Microsoft.ML.Lora.Models.Llama;
using Microsoft.ML.Lora.Tokenization;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints;

/// <summary>
/// Converts a llama2.c "legacy" checkpoint (Karpathy's <c>run.c</c> format: 7 int32 header fields, then float32
/// arrays) into a Hugging Face Llama: a <see cref="LlamaConfig"/> and a state dict with HF names. llama2.c rotates
/// adjacent pairs (x[2i], x[2i+1]) while HF rotates halves (x[i], x[i+d/2]), so the rows of wq and wk are permuted
/// within every head (interleaved → half-split), the permutation Meta→HF conversion uses.
/// </summary>
public static class Llama2cImporter
{
    private const int HeaderInts = 7;

    /// <summary>Reads and validates only the header of a checkpoint, as the HF config it converts to.</summary>
    /// <exception cref="Llama2cFormatException">The header is implausible or the file size does not match it.</exception>
    public static LlamaConfig ReadConfig(string checkpointPath)
    {
        var path = ExistingFile(checkpointPath);
        return ToConfig(ReadHeader(path, new FileInfo(path).Length));
    }

    /// <summary>Reads a checkpoint. The caller owns (disposes) the tensors.</summary>
    /// <exception cref="Llama2cFormatException">The header is implausible or the file size does not match it.</exception>
    public static (LlamaConfig Config, Dictionary<string, Tensor> Weights) Read(string checkpointPath)
    {
        Runtime.TorchDevices.EnsureInitialized();
        var path = ExistingFile(checkpointPath);
        long fileLength = new FileInfo(path).Length;
        var header = ReadHeader(path, fileLength);
        var config = ToConfig(header);
        using var source = new MappedFileByteSource(path, fileLength);
        var reader = new ArrayReader(source, HeaderInts * sizeof(int));
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            weights["model.embed_tokens.weight"] = reader.Next(header.Vocab, header.Dim);
            int layers = header.Layers, dim = header.Dim, kvDim = header.KvDim, hidden = header.Hidden;
            AddPerLayer(weights, reader.Next(layers, dim), "input_layernorm.weight");
            AddPerLayer(weights, reader.Next(layers, dim, dim), "self_attn.q_proj.weight", w => HalfSplitRows(w, header.Heads));
            AddPerLayer(weights, reader.Next(layers, kvDim, dim), "self_attn.k_proj.weight", w => HalfSplitRows(w, header.KvHeads));
            AddPerLayer(weights, reader.Next(layers, kvDim, dim), "self_attn.v_proj.weight");
            AddPerLayer(weights, reader.Next(layers, dim, dim), "self_attn.o_proj.weight");
            AddPerLayer(weights, reader.Next(layers, dim), "post_attention_layernorm.weight");
            AddPerLayer(weights, reader.Next(layers, hidden, dim), "mlp.gate_proj.weight");
            AddPerLayer(weights, reader.Next(layers, dim, hidden), "mlp.down_proj.weight");
            AddPerLayer(weights, reader.Next(layers, hidden, dim), "mlp.up_proj.weight");
            weights["model.norm.weight"] = reader.Next(dim);
            // freq_cis_real and freq_cis_imag [seq_len, head_size/2]: RoPE tables, recomputed from rope_theta.
            reader.Skip(2L * header.SeqLen * (header.HeadSize / 2));
            if (!config.TieWordEmbeddings)
            {
                weights["lm_head.weight"] = reader.Next(header.Vocab, dim);
            }
            return (config, weights);
        }
        catch
        {
            foreach (var t in weights.Values)
            {
                t.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// Converts a checkpoint into an HF folder: <c>config.json</c> and <c>model.safetensors</c>, plus, when
    /// <paramref name="tokenizerPath"/> (a llama2.c <c>tok*.bin</c>) is given, the SentencePiece
    /// <c>tokenizer.model</c> it came from (<see cref="Llama2cTokenizerConverter"/>), which
    /// <see cref="TokenizerLoader.FromFolder"/> loads. This is what <c>mllora convert llama2c</c> runs.
    /// </summary>
    /// <returns>The config written.</returns>
    public static LlamaConfig Convert(string checkpointPath, string outputFolder, string? tokenizerPath = null)
    {
        if (tokenizerPath is not null && !File.Exists(tokenizerPath))
        {
            throw new FileNotFoundException($"llama2.c tokenizer '{Path.GetFullPath(tokenizerPath)}' does not exist.", tokenizerPath);
        }
        var (config, weights) = Read(checkpointPath);
        try
        {
            // One folder or none: a tokenizer that fails to convert leaves no weights without their tokenizer.
            Microsoft.ML.Lora.IO.AtomicOutput.WriteFolder(outputFolder, temp =>
            {
                SafetensorsShardWriter.Write(temp, weights, metadata: new Dictionary<string, string> { ["format"] = "pt" });
                HfConfigFile.Write(config, Path.Combine(temp, HfConfigFile.FileName), ScalarType.Float32, "LlamaForCausalLM");
                if (tokenizerPath is not null)
                {
                    Llama2cTokenizerConverter.ConvertToFolder(tokenizerPath, temp);
                }
            });
        }
        finally
        {
            foreach (var t in weights.Values)
            {
                t.Dispose();
            }
        }
        return config;
    }

    /// <summary>
    /// Reorders the rows of a [heads·head_dim, in] projection from llama2.c's interleaved rotary pairs to HF's
    /// half-split layout: within each head, new row i = old row 2i and new row i + d/2 = old row 2i+1.
    /// </summary>
    public static Tensor HalfSplitRows(Tensor weight, int heads)
    {
        long rows = weight.shape[0], columns = weight.shape[1];
        long headDim = rows / heads;
        return weight.view(heads, headDim / 2, 2, columns).transpose(1, 2).reshape(rows, columns);
    }

    private static string ExistingFile(string checkpointPath)
    {
        var path = Path.GetFullPath(checkpointPath);
        return File.Exists(path) ? path : throw new FileNotFoundException($"llama2.c checkpoint '{path}' does not exist.", path);
    }

    private static void AddPerLayer(Dictionary<string, Tensor> weights, Tensor stacked, string suffix, Func<Tensor, Tensor>? transform = null)
    {
        using (stacked)
        {
            for (int layer = 0; layer < stacked.shape[0]; layer++)
            {
                using var slice = stacked[layer];
                weights[$"model.layers.{layer}.{suffix}"] = transform is null ? slice.clone() : transform(slice).contiguous();
            }
        }
    }

    private static LlamaConfig ToConfig(Llama2cHeader h) => new()
    {
        VocabSize = h.Vocab,
        HiddenSize = h.Dim,
        IntermediateSize = h.Hidden,
        NumHiddenLayers = h.Layers,
        NumAttentionHeads = h.Heads,
        NumKeyValueHeads = h.KvHeads,
        MaxPositionEmbeddings = h.SeqLen,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        TieWordEmbeddings = h.Shared,
        BosTokenId = 1,
        EosTokenId = 2,
        TorchDtype = "float32",
    };

    private static Llama2cHeader ReadHeader(string path, long fileLength)
    {
        Span<byte> bytes = stackalloc byte[HeaderInts * sizeof(int)];
        using (var stream = File.OpenRead(path))
        {
            if (stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) < bytes.Length)
            {
                throw new Llama2cFormatException(path, $"the file is truncated: {fileLength} bytes, shorter than the {bytes.Length}-byte header");
            }
        }
        Span<int> v = stackalloc int[HeaderInts];
        for (int i = 0; i < HeaderInts; i++)
        {
            v[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]);
        }
        var header = new Llama2cHeader(v[0], v[1], v[2], v[3], v[4], Math.Abs(v[5]), v[6], Shared: v[5] > 0);
        string fields = $"dim {v[0]}, hidden_dim {v[1]}, n_layers {v[2]}, n_heads {v[3]}, n_kv_heads {v[4]}, vocab_size {v[5]}, seq_len {v[6]}";
        if (v[0] <= 0 || v[1] <= 0 || v[2] <= 0 || v[3] <= 0 || v[4] <= 0 || v[5] == 0 || v[5] == int.MinValue || v[6] <= 0
            || v[0] % v[3] != 0 || v[3] % v[4] != 0 || header.HeadSize % 2 != 0)
        {
            throw new Llama2cFormatException(path, $"the header ({fields}) does not describe a Llama: every size must be positive, dim a multiple of n_heads, n_heads of n_kv_heads, and the head size even");
        }
        long expected;
        try
        {
            expected = header.ExpectedFileBytes;
        }
        catch (OverflowException)
        {
            throw new Llama2cFormatException(path, $"the header ({fields}) describes a model too large to exist");
        }
        if (expected != fileLength)
        {
            throw new Llama2cFormatException(path, $"the header ({fields}) implies {expected} bytes but the file has {fileLength} (truncated, or not a llama2.c legacy export)");
        }
        return header;
    }

    private sealed record Llama2cHeader(int Dim, int Hidden, int Layers, int Heads, int KvHeads, int Vocab, int SeqLen, bool Shared)
    {
        public int HeadSize => Dim / Heads;
        public int KvDim => Dim / Heads * KvHeads;

        public long ExpectedFileBytes
        {
            get
            {
                checked
                {
                    long d = Dim, l = Layers, kv = KvDim, hd = Hidden, v = Vocab;
                    long floats = v * d + l * d + l * d * d + 2 * l * kv * d + l * d * d + l * d + 3 * l * hd * d + d
                        + 2L * SeqLen * (HeadSize / 2) + (Shared ? 0 : v * d);
                    return HeaderInts * sizeof(int) + floats * sizeof(float);
                }
            }
        }
    }

    /// <summary>Reads consecutive float32 arrays from a mapped file straight into tensors.</summary>
    private sealed class ArrayReader(SafetensorsByteSource source, long offset)
    {
        private long _offset = offset;

        public Tensor Next(params long[] shape)
        {
            var tensor = empty(shape, ScalarType.Float32);
            long start = _offset;
            TensorMemory.VisitChunks(tensor, (chunk, at) => source.CopyTo(start + at, chunk));
            _offset += tensor.numel() * sizeof(float);
            return tensor;
        }

        public void Skip(long floats) => _offset += floats * sizeof(float);
    }
}
