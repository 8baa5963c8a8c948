using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Models.Generation;
using Microsoft.ML.Lora.Tokenization;
using Microsoft.ML.Lora.Tokenization.Chat;

namespace Microsoft.ML.Lora.Chat;

/// <summary>
/// A base or fine-tuned Microsoft.ML.Lora model as a Microsoft.Extensions.AI <see cref="IChatClient"/>. Requests are
/// rendered with the model's chat template and answered by the same KV-cached generation as <c>mllora generate</c>.
/// <see cref="ChatOptions"/> honoured: Instructions (a system message first, joined to an existing one), MaxOutputTokens,
/// Temperature (unset or 0: greedy), TopP, TopK, StopSequences, Seed; other options are ignored. Usage reports input and
/// output tokens. Cancellation is checked before every token. Thread-safe: one reply at a time per base model (concurrent
/// requests wait), generation runs off the caller's thread.
/// </summary>
public sealed class LoraChatClient : IChatClient
{
    private const string ProviderName = "Microsoft.ML.Lora";
    private readonly bool _ownsModel;
    private readonly ChatClientMetadata _metadata;

    /// <summary>A client over <paramref name="model"/>; <paramref name="ownsModel"/> disposes it with the client.</summary>
    public LoraChatClient(LoraChatModel model, bool ownsModel = false)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _ownsModel = ownsModel;
        _metadata = new ChatClientMetadata(ProviderName, defaultModelId: model.ModelId);
    }

    /// <summary>The model answering.</summary>
    public LoraChatModel Model { get; }

    /// <summary>Loads a model folder or zip (see <see cref="LoraChatModel.Load"/>) as a client that owns it.</summary>
    public static LoraChatClient Load(string folderOrZip, string? chatTemplate = null) => new(LoraChatModel.Load(folderOrZip, chatTemplate), ownsModel: true);

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var conversation = ToConversation(messages, options);
        var generation = Generation(options);
        var reply = await Task.Run(() => Model.Reply(conversation, generation, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, reply.Text))
        {
            ResponseId = NewId(),
            ModelId = Model.ModelId,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = FinishReason(reply.StopReason),
            Usage = Usage(reply),
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var conversation = ToConversation(messages, options);
        var generation = Generation(options);
        var pieces = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(() =>
        {
            try
            {
                return Model.Reply(conversation, generation, piece => pieces.Writer.TryWrite(piece), stop.Token);
            }
            finally
            {
                pieces.Writer.TryComplete();
            }
        }, stop.Token);
        string responseId = NewId(), messageId = NewId();
        try
        {
            await foreach (var piece in pieces.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                // Pieces already buffered are not delivered once the caller has cancelled.
                cancellationToken.ThrowIfCancellationRequested();
                yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ResponseId = responseId, MessageId = messageId, ModelId = Model.ModelId, CreatedAt = DateTimeOffset.UtcNow };
            }
            var reply = await producer.ConfigureAwait(false);
            yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(reply))])
            {
                ResponseId = responseId,
                MessageId = messageId,
                ModelId = Model.ModelId,
                CreatedAt = DateTimeOffset.UtcNow,
                FinishReason = FinishReason(reply.StopReason),
            };
        }
        finally
        {
            // A consumer that stops early or is cancelled stops the generation too, before the next token.
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAny(producer).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }
        object?[] services = [_metadata, this, Model, Model.BaseModel, Model.Template, Model.BaseModel.Tokenizer];
        return services.FirstOrDefault(serviceType.IsInstanceOfType);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsModel)
        {
            Model.Dispose();
        }
    }

    /// <summary>A request as the messages the chat template renders: Instructions first as a system message (joined to a leading one).</summary>
    public static List<ConversationMessage> ToConversation(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var conversation = messages.Select(m => new ConversationMessage(m.Role.Value, m.Text)).ToList();
        if (options?.Instructions is { Length: > 0 } instructions)
        {
            if (conversation is [{ Role: ConversationMessage.SystemRole } first, ..])
            {
                conversation[0] = first with { Content = instructions + "\n\n" + first.Content };
            }
            else
            {
                conversation.Insert(0, new ConversationMessage(ConversationMessage.SystemRole, instructions));
            }
        }
        if (conversation.Count == 0)
        {
            throw new ArgumentException("The request has no messages.", nameof(messages));
        }
        return conversation;
    }

    private GenerationOptions Generation(ChatOptions? options)
    {
        var generation = new GenerationOptions
        {
            MaxNewTokens = options?.MaxOutputTokens ?? Model.DefaultMaxNewTokens,
            Temperature = options?.Temperature ?? 0,
            TopP = options?.TopP ?? 1.0,
            TopK = options?.TopK ?? 0,
            StopStrings = options?.StopSequences is { } stops ? [.. stops] : [],
            Seed = options?.Seed,
        };
        generation.Validate();
        return generation;
    }

    private static ChatFinishReason FinishReason(GenerationStopReason reason) =>
        reason is GenerationStopReason.MaxNewTokens or GenerationStopReason.ContextFull ? ChatFinishReason.Length : ChatFinishReason.Stop;

    private static UsageDetails Usage(ChatReply reply) => new()
    {
        InputTokenCount = reply.PromptTokens,
        OutputTokenCount = reply.GeneratedTokens,
        TotalTokenCount = reply.PromptTokens + reply.GeneratedTokens,
    };

    private static string NewId() => Guid.NewGuid().ToString("N");
}
