using Microsoft.ML.Lora.Analysis;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Analysis;

/// <summary>
/// The real PEFT adapters in ../shared/data (trained by Hugging Face PEFT on gpt2 and distilbert, whose bases are
/// not here): factors read from the files alone, spectrum against LAPACK on the materialised ΔW, φ of an adapter
/// with itself.
/// </summary>
public class RealAdapterAnalysisTests
{
    [Fact]
    public void Gpt2EmotionFactorsAndSpectrumWithoutTheBase()
    {
        var adapter = LoraAdapterFactors.Read(SharedData.PathOf("adapters/peft-gpt2-emotion"));
        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"transformer.h.{i}.attn.c_attn"), adapter.Modules.Select(m => m.Module));
        Assert.Null(adapter.RecordedBase);
        var module = adapter.Modules[3];
        // PEFT keeps nn.Linear's factor layout for Conv1D: A [8, 768], B [2304, 8]; the config says fan_in_fan_out.
        Assert.Equal((8, 768, 2304), (module.Rank, module.InFeatures, module.OutFeatures));
        Assert.Equal(1.0, module.Scale);   // α 8 / r 8
        Assert.True(module.FanInFanOut);
        Assert.Equal("attn.c_attn", module.ModuleType);

        var spectra = AdapterSpectrum.Compute(adapter);
        using var scope = NewDisposeScope();
        var dense = linalg.svdvals(module.B.ToTensor().matmul(module.A.ToTensor()).mul(module.Scale))[..8].data<double>().ToArray();
        Assert.True(AnalysisTestMatrices.MaxAbsDiff(spectra[3].SingularValues, dense) <= 1e-9);
        Assert.All(spectra, s => Assert.InRange(s.EffectiveRankEntropy, 1, 8));
        Assert.All(spectra, s => Assert.Equal(1, s.Energy[^1], 12));
    }

    [Fact]
    public void DistilbertImdbSimilarityWithItselfIsOneAndWithAnotherBaseFails()
    {
        var imdb = LoraAdapterFactors.Read(SharedData.PathOf("adapters/peft-distilbert-imdb"));
        Assert.Equal(12, imdb.Modules.Count);   // q_lin and v_lin in 6 layers; the classifier head is not a LoRA update
        Assert.All(imdb.Modules, m => Assert.Equal(2.0, m.Scale));   // α 16 / r 8
        Assert.Equal(["attention.q_lin", "attention.v_lin"], imdb.Modules.Select(m => m.ModuleType).Distinct().Order());

        var self = SubspaceSimilarity.Compute(imdb, imdb);
        Assert.Equal(12, self.Count);
        Assert.All(self.SelectMany(s => s.Phi).SelectMany(row => row), p => Assert.Equal(1, p, 9));
        Assert.All(self, s => Assert.Equal(768, s.SpaceDimension));

        var gpt2 = LoraAdapterFactors.Read(SharedData.PathOf("adapters/peft-gpt2-emotion"));
        var ex = Assert.Throws<ArgumentException>(() => SubspaceSimilarity.Compute(imdb, gpt2));
        Assert.Contains("no module in common", ex.Message);
    }

    [Fact]
    public void AmplificationWithoutABaseSaysItNeedsOne()
    {
        var adapter = LoraAdapterFactors.Read(SharedData.PathOf("adapters/peft-gpt2-emotion"));
        var ex = Assert.Throws<BaseModelRequiredException>(() => BaseModelWeights.Locate(adapter, folder: null));
        Assert.Contains("base", ex.Message);
    }

    [Fact]
    public void MissingOrIncompleteAdaptersGiveTypedErrors()
    {
        using var dir = new TempDirectory();
        Assert.Throws<FileNotFoundException>(() => LoraAdapterFactors.Read(Path.Combine(dir.Path, "nothing")));
        Assert.Throws<FileNotFoundException>(() => LoraAdapterFactors.Read(dir.Path));   // a folder without adapter_config.json
        var notZip = Path.Combine(dir.Path, "model.zip");
        File.WriteAllText(notZip, "not a zip");
        var ex = Assert.Throws<InvalidDataException>(() => LoraAdapterFactors.Read(notZip));
        Assert.Contains("model.zip", ex.Message);
    }
}
