using System.CommandLine;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora inspect PATH</c>: what a model zip, model folder, adapter folder, safetensors file or llama2.c file holds.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "Model zip, HF model folder, PEFT adapter folder, .safetensors file, shard index, or llama2.c .bin" };
        var tensors = new Option<bool>("--tensors") { Description = "List every tensor with its dtype and shape (a zip's adapter tensors are always listed)" };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON" };
        var command = new Command("inspect", "Show what a model zip or checkpoint holds: task, labels, LoRA config and base of a zip; architecture, parameters, dtypes and tensors of a checkpoint (reads headers only).")
        {
            path, tensors, json,
        };
        command.SetAction(parse =>
        {
            var target = parse.GetValue(path)!;
            if (File.Exists(target) && target.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
            {
                var models = LoraModelZip.Describe(target);
                var ranks = InspectAdapterRanks.Of(target);
                Console.Write(parse.GetValue(json) ? ZipReport.ToJson(target, models, ranks) + Environment.NewLine : ZipReport.ToText(target, models, ranks));
                return 0;
            }
            var report = InspectAdapterRanks.AddTo(CheckpointInspector.Inspect(target));
            bool withTensors = parse.GetValue(tensors);
            Console.Write(parse.GetValue(json) ? report.ToJson(withTensors) + Environment.NewLine : report.ToText(withTensors));
            return 0;
        });
        return command;
    }
}
