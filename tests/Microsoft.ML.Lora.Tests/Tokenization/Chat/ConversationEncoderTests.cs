using Microsoft.ML.Lora.Tokenization.Chat;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Tokenization.Chat;

/// <summary>The loss mask of a conversation covers exactly its assistant turns (content and the token closing each turn).</summary>
public sealed class ConversationEncoderTests
{
    private static readonly ConversationMessage[] Conversation =
    [
        new("system", "You are a concise assistant."),
        new("user", "Hi!"),
        new("assistant", "Hello! How can I help?"),
        new("user", "Name three colours."),
        new("assistant", "Red, green and blue."),
    ];

    [Fact]
    public void AssistantMaskIsTheAssistantTurnsOfChatMl()
    {
        var tokenizer = ChatGoldens.PackageTokenizer("tokenizer-qwen3");
        var encoder = new ConversationEncoder(ChatTemplates.Resolve(ChatTemplates.ChatMl, tokenizer), tokenizer);
        var encoded = encoder.Encode(Conversation);
        // Built independently: the text cut into its turns by hand, each piece tokenized on its own (ChatML's pieces
        // meet at special tokens, so the pieces' ids are the whole text's ids).
        (string Text, bool Assistant)[] pieces =
        [
            ("<|im_start|>system\nYou are a concise assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n", false),
            ("Hello! How can I help?<|im_end|>", true),
            ("\n<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n", false),
            ("Red, green and blue.<|im_end|>", true),
            ("\n", false),
        ];
        var expectedIds = pieces.SelectMany(p => tokenizer.Encode(p.Text)).ToArray();
        var expectedMask = pieces.SelectMany(p => Enumerable.Repeat(p.Assistant, tokenizer.Encode(p.Text).Count)).ToArray();
        Assert.Equal(string.Concat(pieces.Select(p => p.Text)), encoded.Text);
        Assert.Equal(expectedIds, encoded.Ids);
        Assert.Equal(expectedMask, encoded.AssistantMask);
        Assert.Equal([tokenizer.TokenToId("<|im_end|>")!.Value], encoder.EndOfTurnIds());
    }

    [Fact]
    public void PlainTemplateMasksTheRepliesAndTheirEosOnStories260K()
    {
        var tokenizer = Microsoft.ML.Lora.Tokenization.TokenizerLoader.FromFolder(Stories260K.Folder);
        var encoder = new ConversationEncoder(ChatTemplates.ForTokenizer(tokenizer), tokenizer);
        var encoded = encoder.Encode(Conversation);
        var runs = Runs(encoded.Ids, encoded.AssistantMask);
        Assert.Equal(2, runs.Count);
        // Each run is the reply (SentencePiece spells its leading space) followed by EOS, which teaches the model to stop.
        Assert.Equal(["Hello! How can I help?", "Red, green and blue."], runs.Select(r => tokenizer.Decode(r).Trim()));
        Assert.All(runs, r => Assert.Equal(tokenizer.EosId, r[^1]));
        var outside = encoded.Ids.Where((_, i) => !encoded.AssistantMask[i]).ToArray();
        Assert.DoesNotContain(tokenizer.EosId!.Value, outside);
        Assert.Contains("Name three colours.", tokenizer.Decode(outside), StringComparison.Ordinal);
    }

    [Fact]
    public void TrainingBatchPutsTheLossOnTheMaskedTargetsOnly()
    {
        var tokenizer = Microsoft.ML.Lora.Tokenization.TokenizerLoader.FromFolder(Stories260K.Folder);
        var encoder = new ExampleEncoder(tokenizer, 512, truncateLeft: false) { Conversational = true };
        var example = encoder.EncodeLanguageModelRow(ConversationJson.Write(Conversation), null, "test row");
        using var batch = TrainingBatch.Collate([example, new TokenizedExample([1, 5, 9])], tokenizer.PadId, CPU, withLossMask: true);
        var loss = batch.LossMask!.data<float>().ToArray();
        int width = (int)batch.LossMask.shape[1];
        // Target p predicts token p+1: it counts exactly when token p+1 is an assistant token.
        Assert.Equal(example.LossMask!.Skip(1).Select(m => m ? 1f : 0f), loss.Take(width));
        Assert.Equal([1f, 1f], loss.Skip(width).Take(2));
    }

    [Fact]
    public void BadConversationsNameTheRowAndTheProblem()
    {
        Assert.Contains("row 3", Assert.Throws<FormatException>(() => ConversationJson.Parse("{not json", "row 3")).Message, StringComparison.Ordinal);
        Assert.Contains("no 'role'", Assert.Throws<FormatException>(() => ConversationJson.Parse("[{\"content\": \"x\"}]", "row 1")).Message, StringComparison.Ordinal);
        Assert.Contains("no messages", Assert.Throws<FormatException>(() => ConversationJson.Parse("{\"messages\": []}", "row 2")).Message, StringComparison.Ordinal);
        Assert.Equal(Conversation, ConversationJson.Parse("{\"messages\": " + ConversationJson.Write(Conversation) + "}", "row"));
    }

    private static List<int[]> Runs(int[] ids, bool[] mask)
    {
        var runs = new List<int[]>();
        for (int i = 0; i < ids.Length;)
        {
            if (!mask[i])
            {
                i++;
                continue;
            }
            int start = i;
            while (i < ids.Length && mask[i])
            {
                i++;
            }
            runs.Add(ids[start..i]);
        }
        return runs;
    }
}
