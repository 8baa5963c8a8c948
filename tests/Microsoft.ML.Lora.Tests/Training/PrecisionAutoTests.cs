using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Runtime;
using Microsoft.ML.Lora.Tests.MLNet;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Training;

public sealed class PrecisionAutoTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly CpuFeatures Avx2Only = new(["sse4_2", "avx", "avx2", "fma"]);                   // e.g. an AMD EPYC (Zen 2/3)
    private static readonly CpuFeatures WithAvx512Bf16 = new(["avx2", "fma", "avx512f", "avx512_bf16"]);  // e.g. Zen 4, Cooper Lake
    private static readonly CpuFeatures WithAmx = new(["avx2", "avx512f", "amx_tile", "amx_bf16"]);        // Sapphire Rapids

    [Fact]
    public void AutoPicksFp32OnAnAvx2OnlyCpuAndBf16WhereBf16IsNative()
    {
        Assert.Equal(LoraPrecision.Float32, PrecisionChoice.Resolve(LoraPrecision.Auto, Avx2Only));
        Assert.Equal(LoraPrecision.BFloat16, PrecisionChoice.Resolve(LoraPrecision.Auto, WithAvx512Bf16));
        Assert.Equal(LoraPrecision.BFloat16, PrecisionChoice.Resolve(LoraPrecision.Auto, WithAmx));
        Assert.Equal(LoraPrecision.Float32, PrecisionChoice.Resolve(LoraPrecision.Auto, new CpuFeatures([])));
        // Full fine-tuning freezes nothing to store in bf16.
        Assert.Equal(LoraPrecision.Float32, PrecisionChoice.Resolve(LoraPrecision.Auto, WithAvx512Bf16, LoraFineTuneMode.Full));
        // Explicit requests are kept.
        Assert.Equal(LoraPrecision.BFloat16, PrecisionChoice.Resolve(LoraPrecision.BFloat16, Avx2Only));
        Assert.Equal(LoraPrecision.Float32, PrecisionChoice.Resolve(LoraPrecision.Float32, WithAvx512Bf16));
    }

    [Fact]
    public void FeaturesAreReadFromCpuInfoAndReportedInAFixedOrder()
    {
        var cpuinfo = Path.Combine(_dir.Path, "cpuinfo");
        File.WriteAllText(cpuinfo, "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx512_bf16 avx2 avx512f fma\n\nprocessor\t: 1\nflags\t\t: fpu\n");
        var features = new CpuFeatures(CpuFeatures.ReadCpuInfoFlags(cpuinfo)!);
        Assert.Equal(["avx2", "fma", "avx512f", "avx512_bf16"], features.Reported);
        Assert.True(features.HasNativeBFloat16);
        Assert.Null(CpuFeatures.ReadCpuInfoFlags(Path.Combine(_dir.Path, "missing")));
        Assert.False(Avx2Only.HasNativeBFloat16);
    }

    [Fact]
    public void NoWarningWhereBf16IsNativeOrNotRequested()
    {
        Assert.Null(PrecisionChoice.SlowBFloat16Warning(LoraPrecision.BFloat16, WithAvx512Bf16));
        Assert.Null(PrecisionChoice.SlowBFloat16Warning(LoraPrecision.Auto, Avx2Only));
        Assert.Null(PrecisionChoice.SlowBFloat16Warning(LoraPrecision.Float32, Avx2Only));
    }

    [Fact]
    public void ExplicitBf16OnACpuWithoutNativeBf16WarnsOnceWithTheMeasuredRatio()
    {
        var warning = PrecisionChoice.SlowBFloat16Warning(LoraPrecision.BFloat16, Avx2Only);
        Assert.NotNull(warning);
        Assert.Contains("without native bf16 (features: avx2,fma)", warning, StringComparison.Ordinal);
        Assert.Contains($"measured {PrecisionChoice.MeasureBf16Slowdown().ToString("F1", System.Globalization.CultureInfo.InvariantCulture)}×", warning, StringComparison.Ordinal);
        Assert.True(PrecisionChoice.MeasureBf16Slowdown() > 0);
        Assert.Null(PrecisionChoice.SlowBFloat16Warning(LoraPrecision.BFloat16, Avx2Only));   // once per process
    }

    [Fact]
    public void ManifestWithoutPrecisionLoadsAsFloat32()
    {
        var manifest = LoraModelManifest.FromJson("""{ "FormatVersion": 1, "Task": "BinaryClassification" }""", "old.zip");
        Assert.Equal(LoraPrecision.Float32, manifest.Precision);
    }

    [Fact]
    public void AutoRecordsTheChosenPrecisionInTheZipAndLoadingFollowsIt()
    {
        var expected = PrecisionChoice.Resolve(LoraPrecision.Auto, CpuFeatures.Current);
        var expectedDtype = expected == LoraPrecision.BFloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var baseFolder = TinyModels.WriteLlamaWithGpt2Tokenizer(Path.Combine(_dir.Path, "base"));
        var ml = new MLContext(seed: 3);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Multiclass(16, seed: 1));
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
            {
                BaseModelPath = baseFolder, NumberOfEpochs = 1, BatchSize = 8, TargetModules = "all-linear", Precision = LoraPrecision.Auto, ShowProgress = false,
            })).Fit(train);
        try
        {
            var lora = ((TransformerChain<LoraFineTuneTransformer>)model).LastTransformer;
            Assert.Equal(expected, lora.Manifest.Precision);
            Assert.Equal(expectedDtype, lora.Model.Model.named_parameters().First(p => p.name == "model.layers.0.mlp.up_proj.weight").parameter.dtype);
            var zip = Path.Combine(_dir.Path, "model.zip");
            ml.Model.Save(model, train.Schema, zip);
            var loaded = new MLContext().RegisterLora().Model.Load(zip, out _);
            try
            {
                var reloaded = ((TransformerChain<ITransformer>)loaded).OfType<LoraFineTuneTransformer>().Single();
                Assert.Equal(expected, reloaded.Manifest.Precision);
                Assert.Equal(expectedDtype, reloaded.Model.Model.named_parameters().First(p => p.name == "model.layers.0.mlp.up_proj.weight").parameter.dtype);
            }
            finally
            {
                (loaded as IDisposable)?.Dispose();
            }
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }
}
