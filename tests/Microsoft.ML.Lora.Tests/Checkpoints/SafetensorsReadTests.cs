using Microsoft.ML.Lora.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

public class SafetensorsReadTests
{
    private static string TinyGpt2 => SharedData.PathOf("models/tiny-random-gpt2/model.safetensors");

    [Fact]
    public void TinyRandomGpt2HeaderParsesWithConv1DOrientation()
    {
        using var file = SafetensorsFile.Open(TinyGpt2);
        Assert.Equal(64, file.Entries.Count);
        Assert.Equal("pt", file.Metadata["format"]);
        var cAttn = file.Entry("transformer.h.0.attn.c_attn.weight");
        Assert.Equal("F32", cAttn.Dtype);
        Assert.Equal(new long[] { 32, 96 }, cAttn.Shape);
        Assert.Equal(new long[] { 1000, 32 }, file.Entry("transformer.wte.weight").Shape);
        Assert.False(file.Contains("lm_head.weight"));
        Assert.Equal(file.Entries.Select(e => e.Name).Order(StringComparer.Ordinal), file.Entries.Select(e => e.Name));
    }

    [Fact]
    public void TinyRandomGpt2ValuesMatchAnIndependentDecodeOfTheFile()
    {
        // Reference values decoded from the file with Python's struct module (row-major, little-endian float32).
        using var file = SafetensorsFile.Open(TinyGpt2);
        using var weight = file.ReadTensor("transformer.h.0.attn.c_attn.weight");
        Assert.Equal(ScalarType.Float32, weight.dtype);
        Assert.Equal(0.02560567855834961f, weight[0, 0].item<float>());
        Assert.Equal(0.029211197048425674f, weight[0, 1].item<float>());
        Assert.Equal(-0.004948593210428953f, weight[0, 95].item<float>());
        Assert.Equal(-0.024434413760900497f, weight[1, 0].item<float>());
        Assert.Equal(2.6888116869440637, weight.to(ScalarType.Float64).sum().item<double>(), 5);
    }

    [Fact]
    public void PeftGpt2EmotionAdapterParsesWithExactNamesAndShapes()
    {
        using var file = SafetensorsFile.Open(SharedData.PathOf("adapters/peft-gpt2-emotion/adapter_model.safetensors"));
        Assert.Equal(25, file.Entries.Count);
        for (int layer = 0; layer < 12; layer++)
        {
            var prefix = $"base_model.model.transformer.h.{layer}.attn.c_attn";
            Assert.Equal(new long[] { 8, 768 }, file.Entry($"{prefix}.lora_A.weight").Shape);
            Assert.Equal(new long[] { 2304, 8 }, file.Entry($"{prefix}.lora_B.weight").Shape);
        }
        Assert.Equal(new long[] { 6, 768 }, file.Entry("base_model.model.score.weight").Shape);
        Assert.All(file.Entries, e => Assert.Equal("F32", e.Dtype));
    }

    [Fact]
    public void PeftDistilBertImdbAdapterParsesWithExactNamesAndShapes()
    {
        using var file = SafetensorsFile.Open(SharedData.PathOf("adapters/peft-distilbert-imdb/adapter_model.safetensors"));
        Assert.Equal(28, file.Entries.Count);
        for (int layer = 0; layer < 6; layer++)
        {
            foreach (var module in new[] { "q_lin", "v_lin" })
            {
                var prefix = $"base_model.model.distilbert.transformer.layer.{layer}.attention.{module}";
                Assert.Equal(new long[] { 8, 768 }, file.Entry($"{prefix}.lora_A.weight").Shape);
                Assert.Equal(new long[] { 768, 8 }, file.Entry($"{prefix}.lora_B.weight").Shape);
            }
        }
        Assert.Equal(new long[] { 2, 768 }, file.Entry("base_model.model.classifier.weight").Shape);
        Assert.Equal(new long[] { 2 }, file.Entry("base_model.model.classifier.bias").Shape);
        Assert.Equal(new long[] { 768, 768 }, file.Entry("base_model.model.pre_classifier.weight").Shape);
        Assert.Equal(new long[] { 768 }, file.Entry("base_model.model.pre_classifier.bias").Shape);
    }

    [Fact]
    public void InMemoryImageReadsTheSameTensorsAsTheMappedFile()
    {
        var path = SharedData.PathOf("adapters/peft-gpt2-emotion/adapter_model.safetensors");
        using var mapped = SafetensorsFile.Open(path);
        using var memory = SafetensorsFile.Load(File.ReadAllBytes(path));
        using var scope = NewDisposeScope();
        foreach (var entry in mapped.Entries)
        {
            TensorAssert.BitExact(mapped.ReadTensor(entry.Name), memory.ReadTensor(entry.Name), entry.Name);
        }
    }

    [Fact]
    public void ReadTensorConvertsToTheRequestedDtype()
    {
        using var file = SafetensorsFile.Open(TinyGpt2);
        using var scope = NewDisposeScope();
        var asStored = file.ReadTensor("transformer.wpe.weight");
        var asBf16 = file.ReadTensor("transformer.wpe.weight", ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, asBf16.dtype);
        TensorAssert.BitExact(asStored.to(ScalarType.BFloat16), asBf16);
    }

    [Fact]
    public void ReadIntoFillsStridedAndDifferentlyTypedDestinations()
    {
        using var file = SafetensorsFile.Open(TinyGpt2);
        using var scope = NewDisposeScope();
        var expected = file.ReadTensor("transformer.h.0.attn.c_attn.weight");
        var strided = zeros(96, 32).t();   // a [32, 96] view that is not contiguous
        file.ReadInto("transformer.h.0.attn.c_attn.weight", strided);
        TensorAssert.BitExact(expected, strided);
        var doubles = zeros([32, 96], ScalarType.Float64);
        file.ReadInto("transformer.h.0.attn.c_attn.weight", doubles);
        TensorAssert.BitExact(expected.to(ScalarType.Float64), doubles);
        var wrongShape = zeros(96, 32);
        var error = Assert.Throws<ArgumentException>(() => file.ReadInto("transformer.h.0.attn.c_attn.weight", wrongShape));
        Assert.Contains("[32, 96]", error.Message);
    }

    [Fact]
    public void LoadingAllocatesNoManagedCopyOfTheData()
    {
        // ~50 MB of float32 in three tensors; loading must not copy tensor data through managed memory.
        using var folder = new TempFolder();
        var path = folder.File("big.safetensors");
        using (var scope = NewDisposeScope())
        {
            SafetensorsWriter.Write(path, new Dictionary<string, Tensor>
            {
                ["a"] = randn(3000, 2048), ["b"] = randn(2048, 2048), ["c"] = randn(1024),
            });
        }
        long fileBytes = new FileInfo(path).Length;
        long before = GC.GetAllocatedBytesForCurrentThread();
        long nativeBytes;
        using (var file = SafetensorsFile.Open(path))
        {
            var all = file.ReadAll();
            nativeBytes = all.Values.Sum(t => t.numel() * t.ElementSize);
            foreach (var t in all.Values)
            {
                t.Dispose();
            }
        }
        long managed = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(managed + nativeBytes <= 1.2 * fileBytes, $"allocated {managed} managed + {nativeBytes} native bytes for a {fileBytes}-byte file");
        Assert.True(managed < fileBytes / 100, $"allocated {managed} managed bytes for a {fileBytes}-byte file");
    }
}
