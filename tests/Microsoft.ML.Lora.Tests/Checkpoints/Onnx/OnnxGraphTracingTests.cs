using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Checkpoints.Onnx;
using Microsoft.ML.Lora.Models.Bert;
using Microsoft.ML.Lora.Tests.Cli;
using Microsoft.ML.Lora.Tokenization;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints.Onnx;

/// <summary>
/// The ONNX importer on graphs built like torch.onnx exports (<see cref="TinyBertOnnx"/>): every name, the head
/// count, the epsilon and the activation are recovered from the wiring, and the converted folder computes what
/// ONNX Runtime computes from the graph.
/// </summary>
public class OnnxGraphTracingTests
{
    private static readonly int[][] Rows = [[2, 7, 11, 30, 5, 3], [2, 19, 3], [2, 38, 1, 4, 3]];

    [Theory]
    [InlineData("erf", "gelu")]
    [InlineData("tanh", "gelu_new")]
    public void AnonymousGraphConvertsToAFolderThatMatchesOnnxRuntime(string activation, string hiddenAct)
    {
        var graph = new TinyBertOnnx { Activation = activation, Heads = 4, Eps = 1e-7f }.Build(seed: 3);
        using var temp = new TempFolder();
        var (onnx, vocab) = Write(temp, graph);
        var result = OnnxBertImporter.Convert(onnx, vocab, temp.File("hf"));

        var config = result.Config;
        Assert.Equal((40, 16, 2, 4, 24, 20, 2), (config.VocabSize, config.Hidden, config.Layers, config.Heads, config.Intermediate, config.MaxPositionEmbeddings, config.TokenTypes));
        Assert.Equal(hiddenAct, config.HiddenAct);
        Assert.Equal(1e-7, config.LayerNormEps);
        Assert.True(result.PoolerFromGraph);
        using var model = PretrainedModelLoader.Load(result.Folder);
        var expected = OnnxRuntimeReference.LastHiddenState(graph, Rows);
        Assert.InRange(MaxDifference(OurLastHiddenState(model, Rows), expected, Rows), 0, 2e-5);
    }

    [Fact]
    public void NamesComeFromTheGraphNotFromTheInitializers()
    {
        // Same weights, once with HF bias names and once with every tensor anonymous: the same folder.
        var named = new TinyBertOnnx { HfBiasNames = true }.Build(seed: 5);
        var anonymous = new TinyBertOnnx().Build(seed: 5);
        using var a = OnnxBertImporter.Read(global::Onnx.ModelProto.Parser.ParseFrom(named), "named");
        using var b = OnnxBertImporter.Read(global::Onnx.ModelProto.Parser.ParseFrom(anonymous), "anonymous");
        Assert.Equal(a.Weights.Keys.Order(), b.Weights.Keys.Order());
        foreach (var (name, tensor) in a.Weights)
        {
            TensorAssert.BitExact(tensor, b.Weights[name], name);
        }
        Assert.Contains("encoder.layer.1.attention.self.query.weight", b.Weights.Keys);
        Assert.Equal(5 + 2 * 16 + 2, b.Weights.Count); // embeddings, 16 per layer, pooler
    }

    [Fact]
    public void GraphWithoutPoolerGetsAnIdentityPooler()
    {
        using var checkpoint = OnnxBertImporter.Read(global::Onnx.ModelProto.Parser.ParseFrom(new TinyBertOnnx { Pooler = false }.Build()), "no-pooler");
        Assert.False(checkpoint.PoolerFromGraph);
        using var identity = eye(16);
        TensorAssert.BitExact(identity, checkpoint.Weights["pooler.dense.weight"], "pooler.dense.weight");
        Assert.Equal(0, checkpoint.Weights["pooler.dense.bias"].abs().sum().item<float>());
    }

    [Theory]
    [InlineData("swap", "contradict the traced structure: 'encoder.layer.0.attention.self.key.bias' is used as 'encoder.layer.0.attention.self.query.bias'")]
    [InlineData("sigmoid", "activation made of [Sigmoid] is not recognised")]
    [InlineData("scale", "not 1/sqrt(head_dim)")]
    [InlineData("no-token-types", "no 'token_type_ids' input")]
    public void E021_UnrecognisedOnnxGraphsGetTypedErrorsNamingWhat(string defect, string message)
    {
        var builder = defect switch
        {
            "swap" => new TinyBertOnnx { HfBiasNames = true, SwapQueryKeyBiasNames = true },
            "sigmoid" => new TinyBertOnnx { Activation = "sigmoid" },
            "scale" => new TinyBertOnnx { ScoreDivisor = 3f },
            _ => new TinyBertOnnx { TokenTypes = false },
        };
        var model = global::Onnx.ModelProto.Parser.ParseFrom(builder.Build());
        var error = Assert.Throws<UnsupportedOnnxGraphException>(() => OnnxBertImporter.Read(model, "defect.onnx"));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.StartsWith("defect.onnx: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void E020_CorruptOnnxFilesAndBadVocabulariesAreRefusedClearly()
    {
        using var temp = new TempFolder();
        var (onnx, vocab) = Write(temp, new TinyBertOnnx().Build());
        var garbage = temp.File("garbage.onnx");
        File.WriteAllBytes(garbage, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1, 2, 3]);
        Assert.Throws<OnnxFormatException>(() => OnnxBertImporter.Read(garbage));
        var truncated = temp.File("truncated.onnx");
        File.WriteAllBytes(truncated, File.ReadAllBytes(onnx)[..^1000]);
        Assert.Throws<OnnxFormatException>(() => OnnxBertImporter.Read(truncated));
        var empty = temp.File("empty.onnx");
        File.WriteAllBytes(empty, []);
        Assert.Contains("no graph", Assert.Throws<OnnxFormatException>(() => OnnxBertImporter.Read(empty)).Message, StringComparison.Ordinal);

        var noCls = temp.File("nocls.txt");
        File.WriteAllLines(noCls, File.ReadAllLines(vocab).Where(l => l != "[CLS]"));
        Assert.Contains("[CLS]", Assert.Throws<InvalidTokenizerException>(() => OnnxBertImporter.Convert(onnx, noCls, temp.File("out"))).Message, StringComparison.Ordinal);
        var tooLarge = temp.File("large.txt");
        File.WriteAllLines(tooLarge, File.ReadAllLines(vocab).Concat(["extra"]));
        Assert.Contains("41 tokens", Assert.Throws<InvalidTokenizerException>(() => OnnxBertImporter.Convert(onnx, tooLarge, temp.File("out"))).Message, StringComparison.Ordinal);

        var (code, _, error) = CliRunner.Run("convert", "onnx", "--model", garbage, "--vocab", vocab, "--out", temp.File("cli"));
        Assert.Equal(2, code);
        Assert.StartsWith("error: " + garbage, error, StringComparison.Ordinal);
    }

    [Fact]
    public void CliConvertWritesTheSentenceTransformersPooling()
    {
        using var temp = new TempFolder();
        var (onnx, vocab) = Write(temp, new TinyBertOnnx().Build());
        var (code, output, error) = CliRunner.Run("convert", "onnx", "--model", onnx, "--vocab", vocab, "--out", temp.File("hf"), "--pooling", "cls", "--normalize", "--max-seq-length", "16");
        Assert.True(code == 0, error);
        Assert.Contains("Model:          bert", output, StringComparison.Ordinal);
        Assert.Equal(new SentenceEmbeddingConfig(SentencePooling.Cls, true, 16), SentenceEmbeddingConfig.Read(temp.File("hf")));
        Assert.Equal(40, TokenizerLoader.FromFolder(temp.File("hf")).VocabularySize);
        Assert.Equal(2, CliRunner.Run("convert", "onnx", "--model", onnx, "--vocab", vocab, "--out", temp.File("x"), "--normalize").ExitCode);
    }

    /// <summary>Writes the graph and a 40-token BERT-style vocabulary for it.</summary>
    internal static (string Onnx, string Vocab) Write(TempFolder temp, byte[] graph)
    {
        var onnx = temp.File("model.onnx");
        File.WriteAllBytes(onnx, graph);
        var vocab = temp.File("vocab.txt");
        string[] words = ["the", "a", "film", "good", "bad", "is", "was", "not", "very", "fun", "dull", "plot", "acting", "great", "boring", "##s", "##ly", "and", "it", "this",
            "movie", "story", "love", "hate", "best", "worst", "funny", "sad", "long", "short", "!", ".", ",", "?", "of"];
        File.WriteAllLines(vocab, new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Concat(words));
        return (onnx, vocab);
    }

    internal static float[] OurLastHiddenState(Microsoft.ML.Lora.Models.PretrainedModel model, IReadOnlyList<int[]> rows)
    {
        using var scope = NewDisposeScope();
        int time = rows.Max(r => r.Length);
        var ids = zeros(rows.Count, time, ScalarType.Int64);
        var mask = zeros(rows.Count, time, ScalarType.Int64);
        for (int b = 0; b < rows.Count; b++)
        {
            ids[b, ..rows[b].Length] = tensor(rows[b].Select(i => (long)i).ToArray());
            mask[b, ..rows[b].Length] = 1;
        }
        using var noGrad = no_grad();
        return ((EncoderModel)model).Encode(ids, mask, null).data<float>().ToArray();
    }

    // Padding positions differ by design (ONNX Runtime attends with -10000, we with the dtype's lowest): compare real tokens.
    internal static double MaxDifference(float[] ours, (float[] Values, int Time, int Width) reference, IReadOnlyList<int[]> rows)
    {
        double max = 0;
        for (int b = 0; b < rows.Count; b++)
        {
            for (int t = 0; t < rows[b].Length; t++)
            {
                for (int h = 0; h < reference.Width; h++)
                {
                    int i = (b * reference.Time + t) * reference.Width + h;
                    max = Math.Max(max, Math.Abs(ours[i] - reference.Values[i]));
                }
            }
        }
        return max;
    }
}
