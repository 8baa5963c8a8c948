using System.CommandLine;
using Microsoft.ML.Lora.Analysis;
using Microsoft.ML.Lora.Plotting;

namespace MlLora.Cli.Commands;

/// <summary>
/// <c>mllora analyze spectrum|similarity|amplification|summary</c>: the LoRA paper's section 7 measurements on a
/// model zip or PEFT folder — JSON, a printed table and PNGs in <c>--out</c>.
/// </summary>
internal static class AnalyzeCommand
{
    public static Command Create()
    {
        var command = new Command("analyze", "Look inside adapters: spectrum of ΔW, subspace similarity φ, amplification of W, change per layer.");
        command.Subcommands.Add(Spectrum());
        command.Subcommands.Add(Similarity());
        command.Subcommands.Add(Amplification());
        command.Subcommands.Add(Summary());
        return command;
    }

    private static Option<string> AdapterOption() => new("--adapter") { Description = "The adapter: a model zip or a PEFT adapter folder", Required = true };

    private static Option<string> OutOption() => new("--out") { Description = "Folder for the JSON and PNG files", Required = true };

    private static Option<string> BaseOption() => new("--base") { Description = "The base model's Hugging Face folder (a zip's recorded base is used when it is found)" };

    private static Command Spectrum()
    {
        var (adapter, output) = (AdapterOption(), OutOption());
        var command = new Command("spectrum", "Singular values of ΔW = scale·B·A per module, energy of the top k, effective ranks (spectrum.json, spectrum.png).") { adapter, output };
        command.SetAction(parse =>
        {
            var factors = Read(parse.GetValue(adapter)!);
            var spectra = AdapterSpectrum.Compute(factors);
            var folder = Directory.CreateDirectory(parse.GetValue(output)!).FullName;
            AdapterAnalysisPlots.WriteSpectrum(Path.Combine(folder, AdapterAnalysisPlots.SpectrumFile), spectra);
            return Finish(folder, AnalysisJson.SpectrumFile, AnalysisJson.Spectrum(spectra), AnalysisTables.Spectrum(spectra), [AdapterAnalysisPlots.SpectrumFile]);
        });
        return command;
    }

    private static Command Similarity()
    {
        var (adapter, output) = (AdapterOption(), OutOption());
        var other = new Option<string>("--other") { Description = "The adapter to compare with (zip or PEFT folder), trained on the same base", Required = true };
        var basis = new Option<string>("--basis")
        {
            Description = "a: right-singular vectors of lora_A (the paper's choice) | b: left-singular vectors of lora_B | delta: right-singular vectors of ΔW",
            DefaultValueFactory = _ => "a",
        };
        var command = new Command("similarity", "Normalised subspace similarity φ(i, j) between two adapters per common module (similarity.json, heat maps).") { adapter, other, basis, output };
        command.SetAction(parse =>
        {
            var chosen = parse.GetValue(basis)!.ToLowerInvariant() switch
            {
                "a" => SubspaceBasis.RightSingularVectorsOfA,
                "b" => SubspaceBasis.LeftSingularVectorsOfB,
                "delta" => SubspaceBasis.RightSingularVectorsOfDeltaW,
                var value => throw new ArgumentException($"--basis '{value}' is not one of a, b, delta."),
            };
            var (first, second) = (Read(parse.GetValue(adapter)!), Read(parse.GetValue(other)!));
            var similarities = SubspaceSimilarity.Compute(first, second, chosen);
            var folder = Directory.CreateDirectory(parse.GetValue(output)!).FullName;
            var pictures = AdapterAnalysisPlots.WriteSimilarity(folder, similarities, Label(first), Label(second));
            return Finish(folder, AnalysisJson.SimilarityFile, AnalysisJson.Similarity(similarities), AnalysisTables.Similarity(similarities), pictures);
        });
        return command;
    }

    private static Command Amplification()
    {
        var (adapter, output, baseFolder) = (AdapterOption(), OutOption(), BaseOption());
        var seed = new Option<int>("--seed") { Description = "Seed of the random subspaces", DefaultValueFactory = _ => WeightAmplification.DefaultSeed };
        var command = new Command("amplification", "The paper's Table 7 per module: ‖UᵀWV‖_F on ΔW's, W's and random directions, ‖W‖_F, ‖ΔW‖_F, amplification (needs the base).") { adapter, baseFolder, seed, output };
        command.SetAction(parse =>
        {
            var factors = Read(parse.GetValue(adapter)!);
            using var weights = LocateBase(factors, parse.GetValue(baseFolder));
            var rows = WeightAmplification.Compute(factors, weights, parse.GetValue(seed));
            var folder = Directory.CreateDirectory(parse.GetValue(output)!).FullName;
            AdapterAnalysisPlots.WriteAmplification(Path.Combine(folder, AdapterAnalysisPlots.AmplificationFile), rows);
            return Finish(folder, AnalysisJson.AmplificationFile, AnalysisJson.Amplification(rows, parse.GetValue(seed)), AnalysisTables.Amplification(rows),
                [AdapterAnalysisPlots.AmplificationFile]);
        });
        return command;
    }

    private static Command Summary()
    {
        var (adapter, output, baseFolder) = (AdapterOption(), OutOption(), BaseOption());
        var command = new Command("summary", "Which layers and module types changed most: ‖ΔW‖_F / ‖W‖_F (‖ΔW‖_F alone without the base) (summary.json, summary.png).") { adapter, baseFolder, output };
        command.SetAction(parse =>
        {
            var factors = Read(parse.GetValue(adapter)!);
            // The summary is useful without W (absolute ‖ΔW‖_F); it uses the base when it is given or found.
            using var weights = TryLocateBase(factors, parse.GetValue(baseFolder));
            var summary = AdapterChangeSummary.Compute(factors, weights);
            var folder = Directory.CreateDirectory(parse.GetValue(output)!).FullName;
            AdapterAnalysisPlots.WriteSummary(Path.Combine(folder, AdapterAnalysisPlots.SummaryFile), summary);
            if (!summary.HasBase)
            {
                Console.WriteLine("no base model: showing ‖ΔW‖_F only; pass --base DIR for ‖ΔW‖_F / ‖W‖_F");
            }
            return Finish(folder, AnalysisJson.SummaryFile, AnalysisJson.Summary(summary), AnalysisTables.Summary(summary), [AdapterAnalysisPlots.SummaryFile]);
        });
        return command;
    }

    // Every verb ends the same way: its JSON into the folder, its table on stdout, and what was written.
    private static int Finish(string folder, string jsonFile, string json, string table, IEnumerable<string> pictures)
    {
        var path = AnalysisJson.Write(folder, jsonFile, json);
        Console.Write(table);
        Console.WriteLine($"wrote {path} and {string.Join(", ", pictures.Select(Path.GetFileName))}");
        return 0;
    }

    private static LoraAdapterFactors Read(string path)
    {
        var factors = LoraAdapterFactors.Read(path);
        if (factors.UsesDora)
        {
            Console.WriteLine($"note: {path} is a DoRA adapter; the analysis covers its LoRA part scale·B·A, not the magnitude rescaling");
        }
        return factors;
    }

    private static BaseModelWeights LocateBase(LoraAdapterFactors factors, string? folder)
    {
        try
        {
            return BaseModelWeights.Locate(factors, folder);
        }
        catch (BaseModelRequiredException e)
        {
            throw new ArgumentException($"amplification needs the base model: pass --base DIR (its Hugging Face folder). {e.Message}", e);
        }
    }

    private static BaseModelWeights? TryLocateBase(LoraAdapterFactors factors, string? folder)
    {
        if (folder is not null)
        {
            return BaseModelWeights.OpenFolder(folder);
        }
        try
        {
            return BaseModelWeights.Locate(factors, null);
        }
        catch (BaseModelRequiredException e) when (factors.RecordedBase is not null)
        {
            Console.WriteLine($"note: {e.Message}");
            return null;
        }
        catch (BaseModelRequiredException)
        {
            return null;
        }
    }

    private static string Label(LoraAdapterFactors factors) => $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(factors.Source))}, r={factors.Modules.Max(m => m.Rank)}";
}
