using Microsoft.ML.Lora.Analysis;
using static Microsoft.ML.Lora.Tests.Analysis.AnalysisTestMatrices;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Analysis;

/// <summary>Spectra of updates built with chosen singular values, and the effective ranks derived from them.</summary>
public class AdapterSpectrumTests
{
    [Fact]
    public void SpectrumReturnsTheSingularValuesTheUpdateWasBuiltWith()
    {
        using var scope = NewDisposeScope();
        double[] sigma = [5, 3, 2, 0.5];
        var u = Orthonormal(24, 4, seed: 1);
        var v = Orthonormal(18, 4, seed: 2);
        // B = U·diag(σ)/scale, A = Vᵀ: ΔW = scale·B·A = U·diag(σ)·Vᵀ.
        var module = Factors(u.matmul(diag(tensor(sigma, ScalarType.Float64))).div(2.0), v.t(), scale: 2.0);
        var spectrum = AdapterSpectrum.Of(module);
        Assert.True(MaxAbsDiff(spectrum.SingularValues, sigma) <= 1e-12);
        double total = sigma.Sum(s => s * s);
        Assert.True(MaxAbsDiff(spectrum.Energy, [25 / total, 34 / total, 38 / total, 1]) <= 1e-12);
        Assert.Equal(3, spectrum.EffectiveRankEnergy90);   // 34/38.25 = 0.889 < 0.9 ≤ 38/38.25
        Assert.Equal(Math.Sqrt(total), spectrum.FrobeniusNorm, 12);
    }

    [Fact]
    public void EffectiveRanksOfKnownSpectra()
    {
        // Equal singular values: every direction counts.
        Assert.Equal(4, AdapterSpectrum.EntropyEffectiveRank([3, 3, 3, 3]), 12);
        Assert.Equal(4, AdapterSpectrum.EnergyRank([3, 3, 3, 3], 0.9));
        // One direction: rank 1 by both measures, whatever r is.
        Assert.Equal(1, AdapterSpectrum.EntropyEffectiveRank([7, 0, 0, 0]), 12);
        Assert.Equal(1, AdapterSpectrum.EnergyRank([7, 0, 0, 0], 0.9));
        // σ = (2, 1): p = (2/3, 1/3), exp(H) = exp(−(2/3)ln(2/3) − (1/3)ln(1/3)); energy (0.8, 1).
        Assert.Equal(Math.Exp(-((2.0 / 3) * Math.Log(2.0 / 3)) - ((1.0 / 3) * Math.Log(1.0 / 3))), AdapterSpectrum.EntropyEffectiveRank([2, 1]), 12);
        Assert.Equal(2, AdapterSpectrum.EnergyRank([2, 1], 0.9));
        Assert.Equal(1, AdapterSpectrum.EnergyRank([2, 1], 0.8));
        // ΔW = 0 (B still at its zero initialisation): no rank at all, and no NaN.
        var zero = AdapterSpectrum.FromSingularValues(Module, 4, [0, 0, 0, 0]);
        Assert.Equal((0.0, 0), (zero.EffectiveRankEntropy, zero.EffectiveRankEnergy90));
        Assert.All(zero.Energy, e => Assert.Equal(0, e));
    }

    [Fact]
    public void ModuleNamesGiveLayerAndType()
    {
        Assert.Equal(3, ModuleNames.LayerOf("model.layers.3.self_attn.q_proj"));
        Assert.Equal("self_attn.q_proj", ModuleNames.TypeOf("model.layers.3.self_attn.q_proj"));
        Assert.Equal("mlp.c_proj", ModuleNames.TypeOf("transformer.h.11.mlp.c_proj"));
        Assert.Equal("attention.q_lin", ModuleNames.TypeOf("distilbert.transformer.layer.0.attention.q_lin"));
        Assert.Null(ModuleNames.LayerOf("model.embed_tokens"));
        Assert.Equal("model.embed_tokens", ModuleNames.TypeOf("model.embed_tokens"));
        string[] paths = ["transformer.h.10.attn.c_attn", "transformer.h.2.attn.c_attn", "transformer.h.2.attn.c_proj"];
        Assert.Equal(["transformer.h.2.attn.c_attn", "transformer.h.2.attn.c_proj", "transformer.h.10.attn.c_attn"], paths.Order(ModuleNames.Order));
    }
}
