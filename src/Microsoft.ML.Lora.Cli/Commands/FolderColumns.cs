using System.CommandLine;

namespace MlLora.Cli.Commands;

/// <summary>
/// The columns a Hugging Face classifier folder given to predict/eval reads (a zip reads the columns it was
/// trained on and ignores these).
/// </summary>
internal sealed class FolderColumns
{
    private const string ForFolders = " (for a Hugging Face folder; a zip reads the columns it was trained on)";

    public Option<string> Text { get; } = new("--text-column") { Description = "Text column" + ForFolders, DefaultValueFactory = _ => "Text" };
    public Option<string?> Text2 { get; } = new("--text2-column") { Description = "Second text column (sentence pairs)" + ForFolders };
    public Option<string> Label { get; } = new("--label-column") { Description = "Label column" + ForFolders, DefaultValueFactory = _ => "Label" };

    public void AddTo(Command command)
    {
        command.Options.Add(Text);
        command.Options.Add(Text2);
        command.Options.Add(Label);
    }

    /// <summary>The model zip or folder named by <paramref name="path"/>, with these columns for a folder.</summary>
    public SavedModel Open(ParseResult parse, string path) =>
        SavedModel.Open(path, parse.GetValue(Text)!, parse.GetValue(Text2), parse.GetValue(Label)!);
}
