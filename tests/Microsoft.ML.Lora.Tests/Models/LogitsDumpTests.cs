using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using TorchSharp;
using static Microsoft.ML.Lora.Tests.Models.ReferenceMath;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Models;

/// <summary>The logits reference hook: dtype handling and the safetensors file it writes.</summary>
public class LogitsDumpTests
{
    private static readonly int[] Ids = [1, 5, 9, 33, 2];

    [Fact]
    public void Float32LogitsEqualTheModelsForward()
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor("llama"));
        using var scope = NewDisposeScope();
        var dumped = LogitsDump.Compute(model, Ids);
        Assert.Equal(ScalarType.Float32, dumped.dtype);
        Assert.Equal(new long[] { 1, Ids.Length, model.Config.VocabularySize }, dumped.shape);
        Assert.Equal(0, MaxAbsDiff(dumped, TinyModels.Logits(model, TinyModels.Ids([.. Ids.Select(i => (long)i)]))));
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void BFloat16WeightsAreUpcastExactlyAndHalfPrecisionStaysClose(string kind)
    {
        using var reference = TinyModels.Create(TinyModels.ConfigFor(kind));
        using var stored = TinyModels.Create(TinyModels.ConfigFor(kind));
        stored.to(ScalarType.BFloat16);   // as a bf16 checkpoint loads
        using var scope = NewDisposeScope();
        // fp32 compute on bf16 weights = fp32 compute on the same weights rounded to bf16.
        reference.to(ScalarType.BFloat16).to(ScalarType.Float32);
        var upcast = LogitsDump.Compute(stored, Ids, ScalarType.Float32);
        Assert.Equal(0, MaxAbsDiff(upcast, LogitsDump.Compute(reference, Ids)));
        Assert.All(stored.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));

        double range = upcast.abs().max().item<float>();
        foreach (var half in new[] { ScalarType.BFloat16, ScalarType.Float16 })
        {
            using var copy = TinyModels.Create(TinyModels.ConfigFor(kind));
            copy.to(ScalarType.BFloat16).to(ScalarType.Float32);
            var low = LogitsDump.Compute(copy, Ids, half);
            Assert.Equal(ScalarType.Float32, low.dtype);
            // Activations rounded to 8 (bf16) or 11 (fp16) mantissa bits: a few percent of the logit range at most.
            Assert.InRange(MaxAbsDiff(low, upcast), 0, 0.05 * range);
        }
    }

    [Fact]
    public void WritesASafetensorsFileWithTheLogitsAndTheirProvenance()
    {
        using var model = TinyModels.Create(TinyModels.ConfigFor("gpt2"));
        var path = Path.Combine(Path.GetTempPath(), $"logits-{Guid.NewGuid():N}.safetensors");
        try
        {
            LogitsDump.Write(path, model, Ids);
            using var file = SafetensorsFile.Open(path);
            using var scope = NewDisposeScope();
            var read = file.ReadTensor(LogitsDump.TensorName);
            Assert.Equal(ScalarType.Float32, read.dtype);
            Assert.Equal(0, MaxAbsDiff(read, LogitsDump.Compute(model, Ids)));
            Assert.Equal("1,5,9,33,2", file.Metadata["token_ids"]);
            Assert.Equal("gpt2", file.Metadata["model_type"]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ArgumentsAreParsedOrRejectedByName()
    {
        Assert.Equal(ScalarType.BFloat16, LogitsDump.ParseComputeDtype("bf16"));
        Assert.Equal(ScalarType.Float16, LogitsDump.ParseComputeDtype("float16"));
        Assert.Equal(ScalarType.Float32, LogitsDump.ParseComputeDtype(" FP32 "));
        Assert.Contains("int8", Assert.Throws<ArgumentException>(() => LogitsDump.ParseComputeDtype("int8")).Message);
        Assert.Equal(new[] { 1, 5, 9 }, LogitsDump.ParseTokenIds("1, 5,9"));
        Assert.Contains("'x'", Assert.Throws<ArgumentException>(() => LogitsDump.ParseTokenIds("1,x")).Message);
        Assert.Throws<ArgumentException>(() => LogitsDump.ParseTokenIds(""));
        using var model = TinyModels.Create(TinyModels.ConfigFor("llama"));
        Assert.Throws<TokenIdOutOfRangeException>(() => LogitsDump.Compute(model, [1, 9999]));
        Assert.Throws<EmptyInputException>(() => LogitsDump.Compute(model, []));
        using var encoder = TinyModels.Create(TinyModels.ConfigFor("distilbert"));
        Assert.Throws<LanguageModelHeadNotSupportedException>(() => LogitsDump.Compute(encoder, Ids));
    }
}
