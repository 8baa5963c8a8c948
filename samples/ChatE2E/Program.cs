// Chat fine-tuning end to end: an ML.NET pipeline fine-tunes stories260K (a real pretrained Llama, ../shared/data) on
// the E2E restaurant data set turned into conversations (user: the meaning representation, assistant: the description),
// with the loss on the assistant turns only; the saved zip is loaded back and answers through Microsoft.Extensions.AI's
// IChatClient, streaming one reply. stories260K has no chat template, so the plain one is used (see ChatTemplates.Plain).
// Usage: dotnet run --project samples/ChatE2E -c Release [-- --quick] [--rows N] [--epochs N] [--out DIR]
using System.Diagnostics;
using Microsoft.Extensions.AI;
using Microsoft.ML;
using Microsoft.ML.Lora.Chat;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tokenization.Chat;
using QuickStart;

var settings = ChatE2ESettings.Parse(args);
var shared = SharedDataLocator.Find();
var work = Directory.CreateDirectory(settings.OutputDirectory).FullName;
var clock = Stopwatch.StartNew();

var baseFolder = Path.Combine(work, "stories260K-hf");
Llama2cImporter.Convert(Path.Combine(shared, "models/stories260K/stories260K.bin"), baseFolder, Path.Combine(shared, "models/stories260K/tok512.bin"));

// E2E lines are "meaning representation||reference"; train on the validation split (the official train split is not here).
var conversations = E2EConversations.Load(Path.Combine(shared, "datasets/e2e/valid.txt")).Take(settings.Rows).ToList();
var ml = new MLContext(seed: 0);
var data = ml.Data.LoadFromEnumerable(conversations);
Console.WriteLine($"training on {conversations.Count} conversations, {settings.Epochs} epoch(s)");

var pipeline = ml.Transforms.Text.LoraFineTuneCausalLanguageModel(new LoraFineTuneOptions
{
    BaseModelPath = baseFolder,
    MessagesColumnName = nameof(ChatRow.Messages),
    Rank = 8,
    Alpha = 16,
    TargetModules = "all-linear",
    NumberOfEpochs = settings.Epochs,
    BatchSize = 16,
    LearningRate = 5e-3,
    MaxSequenceLength = 128,
    MaxNewTokens = 48,
});
var zip = Path.Combine(work, "e2e-chat.zip");
using (var model = pipeline.Fit(data))
{
    Console.WriteLine($"final training loss {model.TrainingResult!.FinalTrainLoss:F3}");
    ml.Model.Save(model, data.Schema, zip);
}
Console.WriteLine($"saved {zip} ({clock.Elapsed.TotalSeconds:F0} s)");

// Later, in another process: the zip as an IChatClient.
using IChatClient client = LoraChatClient.Load(zip);
var questions = E2EConversations.Load(Path.Combine(shared, "datasets/e2e/test.txt")).Select(r => ConversationJson.Parse(r.Messages, "test")[0].Content).Distinct().Take(3).ToList();
foreach (var question in questions)
{
    var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, question)], new ChatOptions { MaxOutputTokens = 48 });
    Console.WriteLine($"user:      {question}\nassistant: {response.Text.Trim()}  ({response.Usage?.InputTokenCount} in, {response.Usage?.OutputTokenCount} out, {response.FinishReason})");
}
Console.Write("streamed:  ");
await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, questions[0])], new ChatOptions { MaxOutputTokens = 48, Temperature = 0.7f, Seed = 1 }))
{
    Console.Write(update.Text);
}
Console.WriteLine($"\ndone in {clock.Elapsed.TotalSeconds:F0} s");
