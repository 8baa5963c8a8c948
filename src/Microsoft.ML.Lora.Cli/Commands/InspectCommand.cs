using System.CommandLine;
using Microsoft.ML.Lora.Checkpoints;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora inspect PATH</c>: what a model folder, adapter folder, safetensors file or llama2.c file holds.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path") { Description = "HF model folder, PEFT adapter folder, .safetensors file, shard index, or llama2.c .bin" };
        var tensors = new Option<bool>("--tensors") { Description = "List every tensor with its dtype and shape" };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON" };
        var command = new Command("inspect", "Show a checkpoint's architecture, parameter count, dtypes and tensors (reads headers only).") { path, tensors, json };
        command.SetAction(parse =>
        {
            var report = InspectAdapterRanks.AddTo(CheckpointInspector.Inspect(parse.GetValue(path)!));
            bool withTensors = parse.GetValue(tensors);
            Console.Write(parse.GetValue(json) ? report.ToJson(withTensors) + Environment.NewLine : report.ToText(withTensors));
            return 0;
        });
        return command;
    }
}
