namespace Microsoft.ML.Lora.Analysis;

/// <summary>The singular-value spectrum of one module's ΔW and the ranks it actually uses.</summary>
/// <param name="Module">The module's path as in the checkpoint.</param>
/// <param name="Rank">The adapter's r for this module.</param>
/// <param name="SingularValues">σ₁ ≥ σ₂ ≥ … of ΔW = scale·B·A (min(r, out, in) of them).</param>
/// <param name="Energy">Energy[k−1] = (σ₁² + … + σ_k²) / ‖ΔW‖_F²: the share of ΔW the top k directions hold.</param>
/// <param name="EffectiveRankEntropy">
/// exp(H(p)) with pᵢ = σᵢ / Σσ (Roy and Vetterli's effective rank): r when all directions are equal, 1 when one
/// dominates; 0 for ΔW = 0.
/// </param>
/// <param name="EffectiveRankEnergy90">The smallest k whose top-k directions hold 90 % of the energy (0 for ΔW = 0).</param>
public sealed record ModuleSpectrum(string Module, int Rank, double[] SingularValues, double[] Energy, double EffectiveRankEntropy, int EffectiveRankEnergy90)
{
    /// <summary>‖ΔW‖_F.</summary>
    public double FrobeniusNorm => Math.Sqrt(SingularValues.Sum(s => s * s));
}

/// <summary>Section 7's "what rank does the update really use": the spectrum of ΔW per module.</summary>
public static class AdapterSpectrum
{
    /// <summary>The share of energy <see cref="ModuleSpectrum.EffectiveRankEnergy90"/> asks for.</summary>
    public const double EnergyThreshold = 0.9;

    /// <summary>The spectrum of every module of an adapter.</summary>
    public static IReadOnlyList<ModuleSpectrum> Compute(LoraAdapterFactors adapter)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        return [.. adapter.Modules.Select(Of)];
    }

    /// <summary>The spectrum of one module (through <see cref="LowRankSvd"/>).</summary>
    public static ModuleSpectrum Of(LoraModuleFactors module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return FromSingularValues(module.Module, module.Rank, LowRankSvd.Decompose(module).SingularValues);
    }

    /// <summary>The spectrum's derived numbers from singular values (sorted descending).</summary>
    public static ModuleSpectrum FromSingularValues(string module, int rank, double[] singularValues)
    {
        ArgumentNullException.ThrowIfNull(singularValues);
        return new ModuleSpectrum(module, rank, singularValues, Energy(singularValues), EntropyEffectiveRank(singularValues), EnergyRank(singularValues, EnergyThreshold));
    }

    /// <summary>Cumulative energy shares; all zeros when every σ is zero.</summary>
    public static double[] Energy(IReadOnlyList<double> singularValues)
    {
        double total = singularValues.Sum(s => s * s);
        var energy = new double[singularValues.Count];
        double running = 0;
        for (int i = 0; i < energy.Length; i++)
        {
            running += singularValues[i] * singularValues[i];
            energy[i] = total > 0 ? Math.Min(1, running / total) : 0;
        }
        return energy;
    }

    /// <summary>exp of the Shannon entropy of σᵢ / Σσ; 0 when every σ is zero.</summary>
    public static double EntropyEffectiveRank(IReadOnlyList<double> singularValues)
    {
        double sum = singularValues.Sum();
        if (!(sum > 0))
        {
            return 0;
        }
        double entropy = 0;
        foreach (var s in singularValues)
        {
            double p = s / sum;
            if (p > 0)
            {
                entropy -= p * Math.Log(p);
            }
        }
        return Math.Exp(entropy);
    }

    /// <summary>The smallest k with σ₁² + … + σ_k² ≥ <paramref name="share"/>·Σσ²; 0 when every σ is zero.</summary>
    public static int EnergyRank(IReadOnlyList<double> singularValues, double share)
    {
        var energy = Energy(singularValues);
        // A share met up to rounding counts as met (a cumulative sum can land a few ulps below an exact 0.9).
        int index = Array.FindIndex(energy, e => e >= share - 1e-12);
        return index < 0 ? 0 : index + 1;
    }
}

/// <summary>The rank one module type actually uses, over its layers (what <c>mllora inspect</c> shows).</summary>
/// <param name="ModuleType">The module type (<see cref="ModuleNames.TypeOf"/>).</param>
/// <param name="Modules">How many modules of this type the adapter has.</param>
/// <param name="Rank">The largest r among them.</param>
/// <param name="MeanEffectiveRankEntropy">The mean entropy-based effective rank.</param>
/// <param name="MinEnergy90">The fewest directions holding 90 % of a module's energy.</param>
/// <param name="MaxEnergy90">The most directions holding 90 % of a module's energy.</param>
public sealed record ModuleTypeRank(string ModuleType, int Modules, int Rank, double MeanEffectiveRankEntropy, int MinEnergy90, int MaxEnergy90)
{
    /// <summary>The spectra grouped by module type, in order of first appearance.</summary>
    public static IReadOnlyList<ModuleTypeRank> Of(IEnumerable<ModuleSpectrum> spectra) =>
        [.. spectra.GroupBy(s => ModuleNames.TypeOf(s.Module), StringComparer.Ordinal).Select(g => new ModuleTypeRank(
            g.Key, g.Count(), g.Max(s => s.Rank), g.Average(s => s.EffectiveRankEntropy), g.Min(s => s.EffectiveRankEnergy90), g.Max(s => s.EffectiveRankEnergy90)))];
}
