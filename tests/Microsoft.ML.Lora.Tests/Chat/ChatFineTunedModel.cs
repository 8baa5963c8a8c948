using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tests.MLNet;
using Microsoft.ML.Lora.Tokenization.Chat;

namespace Microsoft.ML.Lora.Tests.Chat;

/// <summary>
/// stories260K fine-tuned once on E2E restaurant descriptions as conversations (the messages column, plain template),
/// saved as an ML.NET zip that the chat tests load back.
/// </summary>
public sealed class ChatFineTunedModel : IDisposable
{
    private readonly TempDirectory _folder = new();

    public ChatFineTunedModel()
    {
        var rows = RealDataSets.E2e("valid").Take(48).Select(r => new MessagesRow
        {
            Messages = ConversationJson.Write([new(ConversationMessage.UserRole, r.Prompt), new(ConversationMessage.AssistantRole, r.Response)]),
        }).ToList();
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = new LoraFineTuneOptions
        {
            BaseModelPath = Stories260K.Folder,
            MessagesColumnName = nameof(MessagesRow.Messages),
            Rank = 4,
            Alpha = 8,
            NumberOfEpochs = 1,
            BatchSize = 8,
            LearningRate = 5e-3,
            MaxSequenceLength = 96,
            MaxNewTokens = 24,
        };
        using var model = ml.Transforms.Text.LoraFineTuneCausalLanguageModel(options).Fit(data);
        ZipPath = Path.Combine(_folder.Path, "e2e-chat.zip");
        ml.Model.Save(model, data.Schema, ZipPath);
    }

    /// <summary>The saved fine-tuned model.</summary>
    public string ZipPath { get; }

    public void Dispose() => _folder.Dispose();

    public sealed class MessagesRow
    {
        public string Messages { get; set; } = "";
    }
}
