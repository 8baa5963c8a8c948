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
        foreach (var type in ModuleTypeRank.Of(AdapterSpectrum.Compute(LoraAdapterFactors.Read(report.Path))))
        {
            var energy = type.MinEnergy90 == type.MaxEnergy90
                ? type.MinEnergy90.ToString(CultureInfo.InvariantCulture)
                : $"{type.MinEnergy90}-{type.MaxEnergy90}";
            details[$"Rank used {type.ModuleType}"] = string.Create(CultureInfo.InvariantCulture,
                $"r {type.Rank}, effective rank {type.MeanEffectiveRankEntropy:0.##} (entropy, mean of {type.Modules}), 90% of energy in {energy} directions");
        }
        return report with { Details = details };
    }
}
