using System.CommandLine;

namespace MlLora.Cli.Commands;

/// <summary>Every verb of the tool, in help order.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All() =>
    [
        TrainCommand.Create(),
        SweepCommand.Create(),
        PredictCommand.Create(),
        EvalCommand.Create(),
        InspectCommand.Create(),
        AnalyzeCommand.Create(),
        ConvertCommand.Create(),
        ModelsCommand.Create(),
        EmbedCommand.Create(),
        GenerateCommand.Create(),
        ChatCommand.Create(),
        LogitsCommand.Create(),
        MergeCommand.Create(),
        PeftCommand.Create(),
        BenchCommand.Create(),
    ];
}
