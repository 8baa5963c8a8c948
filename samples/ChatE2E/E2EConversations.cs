using Microsoft.ML.Lora.Tokenization.Chat;

/// <summary>One training row: a conversation as JSON (the messages column).</summary>
public sealed class ChatRow
{
    public string Messages { get; set; } = "";
}

/// <summary>E2E NLG lines ("name : X | area : Y ...||reference") as user/assistant conversations.</summary>
public static class E2EConversations
{
    public static IEnumerable<ChatRow> Load(string path) =>
        File.ReadLines(path)
            .Select(line => line.Split("||"))
            .Where(parts => parts.Length == 2 && parts[0].Trim().Length > 0 && parts[1].Trim().Length > 0)
            .Select(parts => new ChatRow
            {
                Messages = ConversationJson.Write(
                [
                    new ConversationMessage(ConversationMessage.UserRole, parts[0].Trim()),
                    new ConversationMessage(ConversationMessage.AssistantRole, parts[1].Trim()),
                ]),
            });
}

/// <summary>Command-line settings; --quick is the CI size (a few seconds of training).</summary>
public sealed record ChatE2ESettings(int Rows, int Epochs, string OutputDirectory)
{
    public static ChatE2ESettings Parse(string[] args)
    {
        var s = new ChatE2ESettings(2000, 2, "out/chat-e2e");
        for (int i = 0; i < args.Length; i++)
        {
            s = args[i] switch
            {
                "--quick" => s with { Rows = 96, Epochs = 1 },
                "--rows" when i + 1 < args.Length => s with { Rows = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture) },
                "--epochs" when i + 1 < args.Length => s with { Epochs = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture) },
                "--out" when i + 1 < args.Length => s with { OutputDirectory = args[++i] },
                _ => throw new ArgumentException($"Unknown argument '{args[i]}'. Usage: [--quick] [--rows N] [--epochs N] [--out DIR]"),
            };
        }
        return s;
    }
}
