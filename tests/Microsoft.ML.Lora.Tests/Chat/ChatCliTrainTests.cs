using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tests.Cli;
using Microsoft.ML.Lora.Tests.MLNet;
using Microsoft.ML.Lora.Tokenization.Chat;

namespace Microsoft.ML.Lora.Tests.Chat;

/// <summary><c>mllora train --task causal-lm --messages-column messages</c> on JSONL conversations, then <c>mllora chat</c>.</summary>
public sealed class ChatCliTrainTests
{
    [Fact]
    public void TrainsOnJsonlConversationsAndChats()
    {
        using var folder = new TempDirectory();
        var data = Path.Combine(folder.Path, "e2e-chat.jsonl");
        File.WriteAllLines(data, RealDataSets.E2e("valid").Take(16).Select(r =>
            "{\"messages\": " + ConversationJson.Write([new(ConversationMessage.UserRole, r.Prompt), new(ConversationMessage.AssistantRole, r.Response)]) + "}"));
        var zip = Path.Combine(folder.Path, "chat.zip");
        var (code, output, error) = CliRunner.Run("train", "--task", "causal-lm", "--model", Stories260K.Folder, "--data", data,
            "--messages-column", "messages", "--epochs", "1", "--max-length", "64", "--out", zip);
        Assert.True(code == 0, error + output);
        (code, output, error) = CliRunner.RunWithInput("name : Alimentum | area : city centre\n", "chat", "--model", zip, "--max-new-tokens", "8");
        Assert.True(code == 0, error);
        Assert.NotEmpty(output.Trim());

        var ml = new MLContext();
        var trainer = ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions { BaseModelPath = Stories260K.Folder, MessagesColumnName = "messages" });
        var rows = ml.Data.LoadFromEnumerable([new ChatFineTunedModel.MessagesRow()]);
        Assert.Contains("MessagesColumnName is for causal-LM", Assert.Throws<ArgumentException>(() => trainer.Fit(rows)).Message, StringComparison.Ordinal);
        (code, _, error) = CliRunner.Run("chat", "--model", zip, "--chat-template", "nonexistent");
        Assert.Equal(2, code);
        Assert.StartsWith("error: --chat-template 'nonexistent'", error, StringComparison.Ordinal);
    }
}
