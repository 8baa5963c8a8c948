using System.Globalization;
using Microsoft.ML.Lora.Analysis;
using Microsoft.ML.Lora.Checkpoints;

namespace MlLora.Cli.Commands;

/// <summary>
/// The rank an adapter actually uses, per module type, added to what <c>mllora inspect</c> shows for an adapter:
/// r beside the entropy effective rank and the directions holding 90 % of ‖ΔW‖², so r larger than needed shows.
/// </summary>
internal static class InspectAdapterRanks
{
    /// <summary>The report with one "Rank used" detail per module type when it describes an adapter; else unchanged.</summary>
    public static CheckpointReport AddTo(CheckpointReport report)
    {
        if (report.Format != "peft-adapter")
        {
            return report;
        }
        var details = new Dictionary<string, string>(report.Details);
        foreach (var type in Of(report.Path))
        {
            details[Key(type)] = Describe(type);
        }
        return report with { Details = details };
    }

    /// <summary>The rank each module type uses in the adapter of a PEFT folder or model zip.</summary>
    public static IReadOnlyList<ModuleTypeRank> Of(string adapterPath) => ModuleTypeRank.Of(AdapterSpectrum.Compute(LoraAdapterFactors.Read(adapterPath)));

    /// <summary>The label of a module type's line.</summary>
    public static string Key(ModuleTypeRank type) => $"Rank used {type.ModuleType}";

    /// <summary>r, the entropy effective rank and the directions that hold 90 % of the energy.</summary>
    public static string Describe(ModuleTypeRank type)
    {
        var energy = type.MinEnergy90 == type.MaxEnergy90
            ? type.MinEnergy90.ToString(CultureInfo.InvariantCulture)
            : $"{type.MinEnergy90}-{type.MaxEnergy90}";
        return string.Create(CultureInfo.InvariantCulture,
            $"r {type.Rank}, effective rank {type.MeanEffectiveRankEntropy:0.##} (entropy, mean of {type.Modules}), 90% of energy in {energy} directions");
    }
}
