using Microsoft.ML.Lora.Models.Generation;
using Microsoft.ML.Lora.Tokenization;
using Microsoft.ML.Lora.Tokenization.Chat;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>What one reply took and gave.</summary>
/// <param name="Text">The reply (cut before a stop string; the closing special token excluded).</param>
/// <param name="PromptTokens">Tokens of the rendered conversation the model read.</param>
/// <param name="GeneratedTokens">Tokens the model produced (a closing end-of-turn/EOS token excluded).</param>
/// <param name="StopReason">Why the reply ended.</param>
public sealed record ChatReply(string Text, int PromptTokens, int GeneratedTokens, GenerationStopReason StopReason);

/// <summary>
/// A causal language model that answers conversations: a base model folder, or a fine-tuned model zip with its adapter.
/// Conversations are rendered with the model's chat template (the one it was fine-tuned with, else the one its tokenizer
/// files carry, else a built-in one, see <see cref="ChatTemplates"/>) and continued with the KV-cached
/// <see cref="TextGenerator"/>, stopping at EOS or the template's end-of-turn token. Thread-safe: replies are generated one
/// at a time per base model (calls wait on the base's lock, shared with ML.NET scoring on the same base; libtorch already
/// uses every core inside one reply). Use one model per thread for parallel replies.
/// </summary>
public sealed class LoraChatModel : IDisposable
{
    private readonly LoraBaseModel _base;
    private readonly IDisposable? _owned;
    private readonly IReadOnlyList<int> _stopIds;

    private LoraChatModel(LoraBaseModel baseModel, string? adapter, IChatTemplate template, string modelId, int defaultMaxNewTokens, IDisposable? owned)
    {
        _base = baseModel;
        AdapterName = adapter;
        Template = template;
        ModelId = modelId;
        DefaultMaxNewTokens = defaultMaxNewTokens;
        _owned = owned;
        Encoder = new ConversationEncoder(template, baseModel.Tokenizer);
        var stops = new List<int>();
        if (baseModel.Tokenizer.EosId is { } eos)
        {
            stops.Add(eos);
        }
        stops.AddRange(Encoder.EndOfTurnIds().Where(id => !stops.Contains(id)));
        _stopIds = stops;
    }

    /// <summary>The base model (with the adapter when loaded from a zip).</summary>
    public LoraBaseModel BaseModel => _base;

    /// <summary>The fine-tuned adapter replies use, or null for the base model alone.</summary>
    public string? AdapterName { get; }

    /// <summary>The template conversations are rendered with.</summary>
    public IChatTemplate Template { get; }

    /// <summary>Renders and tokenizes conversations with <see cref="Template"/>.</summary>
    public ConversationEncoder Encoder { get; }

    /// <summary>The file or folder the model came from (or its model type for an in-memory base).</summary>
    public string ModelId { get; }

    /// <summary>The reply length used when a request sets none (a fine-tuned model's MaxNewTokens, else GenerationOptions' default).</summary>
    public int DefaultMaxNewTokens { get; }

    /// <summary>The ids that end a reply: EOS and the template's end-of-turn token.</summary>
    public IReadOnlyList<int> StopTokenIds => _stopIds;

    /// <summary>Loads a Hugging Face model folder or a fine-tuned model zip (its base resolved as <c>LoadWithLora</c> does).</summary>
    /// <param name="folderOrZip">The model.</param>
    /// <param name="chatTemplate">A built-in template name or Jinja source overriding the model's own, or null.</param>
    public static LoraChatModel Load(string folderOrZip, string? chatTemplate = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folderOrZip);
        if (Directory.Exists(folderOrZip))
        {
            var baseModel = LoraBaseModel.Load(folderOrZip);
            try
            {
                return new LoraChatModel(baseModel, null, ChatTemplates.Resolve(chatTemplate, baseModel.Tokenizer), folderOrZip, new GenerationOptions().MaxNewTokens, baseModel);
            }
            catch
            {
                baseModel.Dispose();
                throw;
            }
        }
        if (!File.Exists(folderOrZip))
        {
            throw new FileNotFoundException($"'{folderOrZip}' is neither a model folder nor a model zip.", folderOrZip);
        }
        var loaded = new MLContext(seed: 0).Model.LoadWithLora(folderOrZip, out _);
        var owned = new LoadedPipeline(loaded);
        try
        {
            var lora = LoraFineTuneTransformer.FindIn(loaded) ?? throw new InvalidDataException($"'{folderOrZip}' holds no LoRA fine-tuned model (no LoraFineTuneTransformer in its pipeline).");
            return Create(lora, chatTemplate, folderOrZip, owned);
        }
        catch
        {
            owned.Dispose();
            throw;
        }
    }

    /// <summary>Answers with a fine-tuned causal LM (not disposed with this object).</summary>
    public static LoraChatModel FromTransformer(LoraFineTuneTransformer transformer, string? chatTemplate = null)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        return Create(transformer, chatTemplate, transformer.BaseModelReference.Path ?? transformer.Model.Model.Config.ModelType, owned: null);
    }

    /// <summary>Answers with a base model alone, adapters on it switched off during replies (not disposed with this object).</summary>
    public static LoraChatModel FromBaseModel(LoraBaseModel baseModel, string? chatTemplate = null)
    {
        ArgumentNullException.ThrowIfNull(baseModel);
        return new LoraChatModel(baseModel, null, ChatTemplates.Resolve(chatTemplate, baseModel.Tokenizer), baseModel.Folder ?? baseModel.Model.Config.ModelType, new GenerationOptions().MaxNewTokens, null);
    }

    private static LoraChatModel Create(LoraFineTuneTransformer lora, string? chatTemplate, string modelId, IDisposable? owned)
    {
        if (lora.Task != Training.LoraTask.CausalLanguageModel)
        {
            throw new InvalidOperationException($"'{modelId}' is a {lora.Task} model; chat needs a causal language model.");
        }
        var manifest = lora.Manifest;
        var template = ChatTemplates.Resolve(chatTemplate ?? manifest.ChatTemplate, lora.Model.Tokenizer);
        return new LoraChatModel(lora.Model, lora.AdapterName, template, modelId, manifest.MaxNewTokens > 0 ? manifest.MaxNewTokens : new GenerationOptions().MaxNewTokens, owned);
    }

    /// <summary>
    /// The assistant's next reply to <paramref name="messages"/>. Stop ids are added to <paramref name="options"/>'
    /// EOS ids; text pieces go to <paramref name="onText"/> as they become stable (they concatenate to the reply's text).
    /// Cancellation is checked before every token.
    /// </summary>
    public ChatReply Reply(IReadOnlyList<ConversationMessage> messages, GenerationOptions options, Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(options);
        var prompt = Encoder.EncodePrompt(messages);
        var tokenizer = _base.Tokenizer;
        options = options with { EosTokenIds = [.. (options.EosTokenIds ?? []).Concat(_stopIds).Distinct()], PadTokenId = options.PadTokenId ?? tokenizer.PadId };
        var decoder = new IncrementalDecoder(tokenizer, options.StopStrings);
        GenerationResult result;
        lock (_base.Gate)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var adapters = ActivateAdapter();
            var generator = new TextGenerator(_base.Model, tokenizer);
            Action<int>? push = onText is null ? null : id =>
            {
                var piece = decoder.Push(id);
                if (piece.Length > 0)
                {
                    onText(piece);
                }
            };
            result = generator.Generate(prompt, options, push, cancellationToken);
        }
        var text = result.Text ?? tokenizer.Decode(result.TokenIds);
        if (onText is not null && decoder.Finish(text) is { Length: > 0 } rest)
        {
            onText(rest);
        }
        return new ChatReply(text, prompt.Length, result.TokenIds.Count, result.StopReason);
    }

    /// <summary>Makes this model's adapter the active one (or switches adapters off for the base alone); call under the gate.</summary>
    private IDisposable? ActivateAdapter()
    {
        if (AdapterName is { } adapter)
        {
            if (_base.Lora.ActiveAdapters is not [var active] || active != adapter)
            {
                _base.Lora.SetActiveAdapters(adapter);
            }
            return null;
        }
        return _base.Lora.Adapters.Count > 0 ? _base.Lora.DisableAdapters() : null;
    }

    /// <inheritdoc />
    public void Dispose() => _owned?.Dispose();

    /// <summary>The transformers of a loaded model zip, disposed together.</summary>
    private sealed class LoadedPipeline(ITransformer model) : IDisposable
    {
        public void Dispose()
        {
            foreach (var disposable in Enumerate(model).OfType<IDisposable>())
            {
                disposable.Dispose();
            }
        }

        private static IEnumerable<ITransformer> Enumerate(ITransformer t) => t is IEnumerable<ITransformer> chain ? chain.SelectMany(Enumerate) : [t];
    }
}
