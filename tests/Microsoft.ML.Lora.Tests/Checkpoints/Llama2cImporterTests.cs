using System.Buffers.Binary;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Llama;
using Microsoft.ML.Lora.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

public class Llama2cImporterTests
{
    private const string Golden = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. " +
        "One day, she saw a big, red ball. She wanted to play with it, but it was too high.";

    private static string Checkpoint => SharedData.PathOf("models/stories260K/stories260K.bin");
    private static string Tokenizer => SharedData.PathOf("models/stories260K/tok512.bin");

    /// <summary>Greedy decoding from BOS without a cache: the whole prefix is re-run each step. Returns the ids after BOS.</summary>
    private static (string Text, List<long> Ids) Greedy(PretrainedModel model, int maxChars)
    {
        var pieces = new Llama2cTokenPieces(Tokenizer, model.Config.VocabularySize);
        var ids = new List<long> { 1 };
        string text = "";
        using var noGrad = no_grad();
        while (text.Length < maxChars && ids.Count < model.Config.MaxPositions)
        {
            using var scope = NewDisposeScope();
            var input = tensor(ids.ToArray()).unsqueeze(0);
            var logits = model.LanguageModelLogits(model.ForwardHidden(input));
            long next = logits[0, -1].argmax().item<long>();
            if (next == 1 || next == 2)
            {
                break;
            }
            ids.Add(next);
            text = pieces.Decode(ids.Skip(1));
        }
        return (text, ids.Skip(1).ToList());
    }

    [Fact]
    public void Stories260KConvertsAndGreedyDecodesTheGoldenText()
    {
        using var folder = new TempFolder();
        var config = Llama2cImporter.Convert(Checkpoint, folder.Path, Tokenizer);
        Assert.Equal((64, 172, 5, 8, 4, 512, 512), (config.HiddenSize, config.IntermediateSize, config.NumHiddenLayers,
            config.NumAttentionHeads, config.KeyValueHeads, config.VocabSize, config.MaxPositionEmbeddings));
        Assert.True(config.TieWordEmbeddings);
        using var model = PretrainedModelLoader.Load(folder.Path);
        var (text, ids) = Greedy(model, Golden.Length + 10);
        Assert.StartsWith(Golden, text);
        // The converted tokenizer.model (loaded through Microsoft.ML.Tokenizers) reads the same ids the same way.
        var tokenizer = TokenizerLoader.FromFolder(folder.Path);
        Assert.Equal((1, 2, 512), (tokenizer.BosId, tokenizer.EosId, tokenizer.VocabularySize));
        Assert.Equal(text, tokenizer.Decode(ids.Select(i => (int)i)));
    }

    [Fact]
    public void ConvertedFolderHasHfLayout()
    {
        using var folder = new TempFolder();
        Llama2cImporter.Convert(Checkpoint, folder.Path, Tokenizer);
        var config = Assert.IsType<LlamaConfig>(HfConfigFile.Read(folder.Path));
        Assert.Equal(1e-5, config.RmsNormEps);
        Assert.Equal(10000, config.RopeTheta);
        Assert.Equal((1, 2), (config.BosTokenId, config.EosTokenId));
        Assert.Equal("LlamaForCausalLM", config.ExtraFields!["architectures"][0].GetString());
        Assert.True(File.Exists(folder.File("tokenizer.model")));
        using var weights = SafetensorsCheckpoint.Open(folder.Path);
        Assert.Equal(2 + 5 * 9, weights.Entries.Count);   // embedding, final norm, 9 tensors per layer; no lm_head (tied)
        Assert.False(weights.Contains("lm_head.weight"));
        Assert.Equal(new long[] { 32, 64 }, weights.Entry("model.layers.4.self_attn.k_proj.weight").Shape);
        Assert.Equal(new long[] { 172, 64 }, weights.Entry("model.layers.0.mlp.gate_proj.weight").Shape);
        Assert.Equal(new long[] { 64, 172 }, weights.Entry("model.layers.0.mlp.down_proj.weight").Shape);
    }

    [Fact]
    public void HalfSplitRowsMovesEvenRowsToTheFirstHalfOfEachHead()
    {
        using var scope = NewDisposeScope();
        var rows = arange(8, ScalarType.Float32).unsqueeze(1).expand(8, 3).contiguous();   // row r holds r
        var permuted = HalfSplitRowsOf(rows, heads: 2);
        Assert.Equal(new float[] { 0, 2, 1, 3, 4, 6, 5, 7 }, permuted[.., 0].data<float>().ToArray());
    }

    private static Tensor HalfSplitRowsOf(Tensor w, int heads) => Llama2cImporter.HalfSplitRows(w, heads);

    [Fact]
    public void PermutedRowsUnderHfRotationEqualLlama2cPairRotation()
    {
        // Independent check of the convention change: rotate adjacent pairs by hand (llama2.c), and compare
        // with HF's half rotation applied to the permuted projection.
        using var scope = NewDisposeScope();
        int heads = 2, headDim = 8, width = 16, time = 5;
        var g = new Generator(3);
        var w = randn([heads * headDim, width], generator: g);
        var x = randn([1, time, width], generator: g);
        var q = x.matmul(w.t()).view(1, time, heads, headDim).transpose(1, 2);   // [1, H, T, d]
        var pairwise = zeros_like(q);
        for (int t = 0; t < time; t++)
        {
            for (int i = 0; i < headDim / 2; i++)
            {
                double angle = t * Math.Pow(10000, -2.0 * i / headDim);
                var a = q[.., .., t, 2 * i];
                var b = q[.., .., t, 2 * i + 1];
                pairwise[.., .., t, 2 * i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                pairwise[.., .., t, 2 * i + 1] = a * Math.Sin(angle) + b * Math.Cos(angle);
            }
        }
        var config = new LlamaConfig { HiddenSize = width, NumAttentionHeads = heads, MaxPositionEmbeddings = 16, RopeTheta = 10000 };
        var (cos, sin) = new RotaryEmbedding(config).CosSin(arange(time).unsqueeze(0), ScalarType.Float32);
        var qHf = x.matmul(Llama2cImporter.HalfSplitRows(w, heads).t()).view(1, time, heads, headDim).transpose(1, 2);
        var rotated = RotaryEmbedding.Apply(qHf, cos, sin);
        // Same values, stored half-split: undo the layout on the pairwise result and compare.
        var expected = pairwise.view(1, heads, time, headDim / 2, 2).transpose(3, 4).reshape(1, heads, time, headDim);
        Assert.True(rotated.allclose(expected, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void UntiedClassifierIsImportedAsLmHead()
    {
        // Rewrite the real file as an unshared-classifier export: negative vocab_size and wcls appended.
        using var folder = new TempFolder();
        var bytes = File.ReadAllBytes(Checkpoint).ToList();
        var header = bytes.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(20), -512);
        var classifier = new byte[512 * 64 * 4];
        new Random(5).NextBytes(classifier);
        for (int i = 3; i < classifier.Length; i += 4)
        {
            classifier[i] &= 0x3F;   // keep the random floats finite
        }
        var path = folder.File("untied.bin");
        File.WriteAllBytes(path, [.. header, .. classifier]);
        var (config, weights) = Llama2cImporter.Read(path);
        try
        {
            Assert.False(config.TieWordEmbeddings);
            Assert.Equal(512, config.VocabSize);
            Assert.Equal(classifier, weights["lm_head.weight"].bytes.ToArray());
        }
        finally
        {
            foreach (var t in weights.Values)
            {
                t.Dispose();
            }
        }
    }

    [Theory]
    [InlineData(0, 0, "does not describe a Llama")]      // dim 0
    [InlineData(12, 3, "does not describe a Llama")]     // n_heads 3 does not divide dim 64
    [InlineData(16, 3, "does not describe a Llama")]     // n_kv_heads 3 does not divide n_heads 8
    [InlineData(8, 6, "implies")]                        // 6 layers: the file is too short
    [InlineData(24, 1_000_000, "implies")]               // seq_len far beyond the data
    [InlineData(0, 1 << 30, "too large to exist")]       // with huge hidden_dim and n_layers below
    public void E018_Llama2cMalformedHeaderIsRefused(int field, int value, string problem)
    {
        using var folder = new TempFolder();
        var bytes = File.ReadAllBytes(Checkpoint);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(field), value);
        if (problem == "too large to exist")
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), int.MaxValue);
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), int.MaxValue);
        }
        var path = folder.File("bad.bin");
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<Llama2cFormatException>(() => Llama2cImporter.Read(path));
        Assert.Equal(path, error.FilePath);
        Assert.Contains(problem, error.Problem);
    }

    [Fact]
    public void E019_Llama2cTruncatedFileIsRefused()
    {
        using var folder = new TempFolder();
        var path = folder.File("short.bin");
        File.WriteAllBytes(path, File.ReadAllBytes(Checkpoint)[..1000]);
        Assert.Contains("implies", Assert.Throws<Llama2cFormatException>(() => Llama2cImporter.Read(path)).Problem);
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("truncated", Assert.Throws<Llama2cFormatException>(() => Llama2cImporter.Read(path)).Problem);
    }
}
