using Microsoft.Extensions.AI;
using Microsoft.ML.Data;
using Microsoft.ML.Lora.Chat;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tests.Cli;
using Microsoft.ML.Lora.Tokenization.Chat;

namespace Microsoft.ML.Lora.Tests.Chat;

/// <summary>A model fine-tuned on a messages column, loaded back and answering through IChatClient, mllora generate and mllora chat.</summary>
public sealed class ChatClientTests(ChatFineTunedModel trained) : IClassFixture<ChatFineTunedModel>
{
    private static readonly ChatMessage[] Question = [new(ChatRole.User, "name : The Eagle | eatType : coffee shop | food : French | area : riverside")];

    [Fact]
    public async Task GreedyReplyEqualsMlloraGenerateOnTheRenderedPrompt()
    {
        using var client = LoraChatClient.Load(trained.ZipPath);
        var response = await client.GetResponseAsync(Question, new ChatOptions { MaxOutputTokens = 20 });
        var rendered = client.Model.Template.Render(LoraChatClient.ToConversation(Question, null), addGenerationPrompt: true);
        Assert.StartsWith("<s>User: name : The Eagle", rendered, StringComparison.Ordinal);
        var (code, output, error) = CliRunner.Run("generate", "--model", trained.ZipPath, "--prompt", rendered, "--max-new-tokens", "20");
        Assert.True(code == 0, error);
        Assert.Equal(output[..^Environment.NewLine.Length], response.Text);
        Assert.NotEmpty(response.Text.Trim());
        Assert.Equal(client.Model.Encoder.EncodePrompt(LoraChatClient.ToConversation(Question, null)).Length, response.Usage!.InputTokenCount);
        Assert.InRange(response.Usage.OutputTokenCount!.Value, 1, 20);
        Assert.Equal(response.FinishReason == ChatFinishReason.Length, response.Usage.OutputTokenCount == 20);
    }

    [Fact]
    public async Task StreamingConcatenatesToTheNonStreamingReply()
    {
        using var client = LoraChatClient.Load(trained.ZipPath);
        var options = new ChatOptions { MaxOutputTokens = 24, Temperature = 0.8f, TopK = 40, TopP = 0.9f, Seed = 7, Instructions = "Describe the restaurant." };
        var whole = await client.GetResponseAsync(Question, options);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Question, options))
        {
            updates.Add(update);
        }
        Assert.True(updates.Count > 2, "tokens arrive one piece at a time");
        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));
        var usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>()).Details;
        Assert.Equal(whole.Usage!.OutputTokenCount, usage.OutputTokenCount);
        Assert.Equal(whole.FinishReason, updates[^1].FinishReason);
        Assert.Equal(whole.Text, updates.ToChatResponse().Text);
    }

    [Fact]
    public async Task StopSequencesCutTheReplyTheSameWayStreamedOrNot()
    {
        using var client = LoraChatClient.Load(trained.ZipPath);
        var full = await client.GetResponseAsync(Question, new ChatOptions { MaxOutputTokens = 24 });
        var words = full.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length >= 3, full.Text);
        var options = new ChatOptions { MaxOutputTokens = 24, StopSequences = [" " + words[2]] };
        var cut = await client.GetResponseAsync(Question, options);
        Assert.Equal(full.Text[..full.Text.IndexOf(" " + words[2], StringComparison.Ordinal)], cut.Text);
        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);
        Assert.Equal(cut.Text, (await client.GetStreamingResponseAsync(Question, options).ToChatResponseAsync()).Text);
    }

    [Fact]
    public void CancellationStopsWithinOneToken()
    {
        using var model = LoraChatModel.Load(trained.ZipPath);
        using var cancel = new CancellationTokenSource();
        int piecesAfterCancel = 0;
        bool cancelled = false;
        var options = new Microsoft.ML.Lora.Models.Generation.GenerationOptions { MaxNewTokens = 40 };
        Assert.ThrowsAny<OperationCanceledException>(() => model.Reply(LoraChatClient.ToConversation(Question, null), options, _ =>
        {
            piecesAfterCancel += cancelled ? 1 : 0;
            cancelled = true;
            cancel.Cancel();
        }, cancel.Token));
        Assert.True(cancelled);
        Assert.Equal(0, piecesAfterCancel);
    }

    [Fact]
    public async Task CancelledStreamThrowsAndTheClientAnswersAgain()
    {
        using var client = LoraChatClient.Load(trained.ZipPath);
        using var cancel = new CancellationTokenSource();
        int received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync(Question, new ChatOptions { MaxOutputTokens = 40 }, cancel.Token))
            {
                received++;
                await cancel.CancelAsync();
            }
        });
        Assert.Equal(1, received);
        var again = await client.GetResponseAsync(Question, new ChatOptions { MaxOutputTokens = 4 });
        Assert.Equal(4, again.Usage!.OutputTokenCount);
    }

    [Fact]
    public void GetServiceAnswersMetadataAndTheModel()
    {
        using var client = LoraChatClient.Load(trained.ZipPath);
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.Equal("Microsoft.ML.Lora", metadata!.ProviderName);
        Assert.Equal(trained.ZipPath, metadata.DefaultModelId);
        Assert.Same(client.Model, client.GetService<LoraChatModel>());
        Assert.Same(client.Model.BaseModel, client.GetService<LoraBaseModel>());
        Assert.Same(client, client.GetService<IChatClient>());
        Assert.Null(client.GetService<LoraChatModel>("some key"));
        Assert.IsType<JinjaChatTemplate>(client.GetService<IChatTemplate>());
    }

    [Fact]
    public void MlloraChatHoldsAConversationFromStandardInput()
    {
        using var model = LoraChatModel.Load(trained.ZipPath);
        var first = model.Reply([new(ConversationMessage.UserRole, "name : Alimentum | area : city centre")], new() { MaxNewTokens = 12 });
        var (code, output, error) = CliRunner.RunWithInput("name : Alimentum | area : city centre\n/reset\nname : Alimentum | area : city centre\n/exit\n",
            "chat", "--model", trained.ZipPath, "--max-new-tokens", "12");
        Assert.True(code == 0, error);
        var lines = output.Split(Environment.NewLine, StringSplitOptions.None);
        Assert.Equal(first.Text, lines[0]);
        Assert.Equal(first.Text, lines[1]); // after /reset the same question gets the same greedy reply
    }

    [Fact]
    public void TheSavedModelScoresConversationsInMlNet()
    {
        var ml = new MLContext();
        var loaded = ml.Model.LoadWithLora(trained.ZipPath, out _);
        var conversation = ConversationJson.Write([new(ConversationMessage.UserRole, "name : Alimentum | area : city centre")]);
        var scored = loaded.Transform(ml.Data.LoadFromEnumerable([new ChatFineTunedModel.MessagesRow { Messages = conversation }]));
        var generated = scored.GetColumn<string>("GeneratedText").Single();
        using var model = LoraChatModel.Load(trained.ZipPath);
        Assert.Equal(model.Reply(ConversationJson.Parse(conversation, "row"), new() { MaxNewTokens = 24 }).Text, generated);
        (loaded as IDisposable)?.Dispose();
    }
}
