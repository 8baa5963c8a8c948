using System.CommandLine;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.IO;
using Microsoft.ML.Lora.MLNet;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora peft import|export</c>: move adapters between PEFT folders and ML.NET model zips.</summary>
internal static class PeftCommand
{
    public static Command Create()
    {
        var command = new Command("peft", "Import or export Hugging Face PEFT LoRA adapters.");
        command.Subcommands.Add(Import());
        command.Subcommands.Add(Export());
        return command;
    }

    private static Command Import()
    {
        var baseDir = new Option<string>("--base") { Description = "Base model: Hugging Face folder", Required = true };
        var adapter = new Option<string>("--adapter") { Description = "PEFT adapter folder (adapter_config.json + adapter_model.safetensors)", Required = true };
        var output = new Option<string>("--out") { Description = "Output ML.NET model zip", Required = true };
        var overwrite = OutputPaths.Overwrite();
        var command = new Command("import", "Import a PEFT adapter onto a base model and save an ML.NET model zip.") { baseDir, adapter, output, overwrite };
        command.SetAction(parse =>
        {
            OutputPaths.CheckFile(output, parse.GetValue(output)!, parse.GetValue(overwrite));
            var ml = new MLContext(seed: 0);
            using var transformer = ml.Model.ImportPeftAdapter(ModelPaths.RequireFolder(baseDir.Name, parse.GetValue(baseDir)!), parse.GetValue(adapter)!);
            TrainCommand.SaveAtomically(ml, transformer, transformer.InputSchema, parse.GetValue(output)!);
            var report = transformer.ImportReport!;
            Console.WriteLine($"imported {report.TensorCount} tensors: r={report.Config.Rank} alpha={report.Config.Alpha}, " +
                $"{report.AdaptedModules.Count} adapted modules, saved modules [{string.Join(", ", report.SavedModules)}], task {CommonOptions.TaskName(transformer.Task)}; saved {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }

    private static Command Export()
    {
        var model = CommonOptions.ModelZip();
        var output = new Option<string>("--out") { Description = "Output PEFT adapter folder", Required = true };
        var overwrite = OutputPaths.Overwrite();
        var command = new Command("export", "Export a model zip's adapter as a PEFT adapter folder.") { model, output, overwrite };
        command.SetAction(parse =>
        {
            OutputPaths.CheckFolder(output, parse.GetValue(output)!, parse.GetValue(overwrite));
            using var saved = SavedModel.Load(parse.GetValue(model)!);
            var adapter = saved.Lora.AdapterName ?? throw new ArgumentException(
                $"'{parse.GetValue(model)}' was fine-tuned with --mode {FineTuneArguments.ModeName(saved.Lora.Mode)}: it has no LoRA adapter to export.");
            if (saved.Lora.ChainCycles > 1)
            {
                // A PEFT adapter applies to the original base, but a chain's last adapter applies to the base with the earlier cycles merged.
                throw new ArgumentException(
                    $"'{parse.GetValue(model)}' was trained with --chain-cycles {saved.Lora.ChainCycles}: its adapter only holds the last cycle. Use 'mllora merge' for the whole model.");
            }
            AtomicOutput.WriteFolder(parse.GetValue(output)!, folder => PeftAdapterFormat.Export(saved.Lora.Model.Lora, folder, adapter));
            Console.WriteLine($"exported adapter '{adapter}' to {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
