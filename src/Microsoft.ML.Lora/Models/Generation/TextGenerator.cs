using Microsoft.ML.Lora.Tokenization;
using Microsoft.ML.Lora.Models.Gpt2;
using Microsoft.ML.Lora.Models.Llama;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models.Generation;

/// <summary>
/// Autoregressive generation with a causal LM: prompts of different lengths are left-padded into one batch,
/// the KV cache carries earlier positions, and each step applies <see cref="LogitsProcessing"/>. Runs under
/// no_grad in eval mode (the model's training mode is restored afterwards).
/// </summary>
public sealed class TextGenerator
{
    private readonly PretrainedModel _model;
    private readonly Func<IReadOnlyList<int>, string>? _decode;
    private readonly TextTokenizer? _tokenizer;

    /// <summary>
    /// A generator for <paramref name="model"/>; <paramref name="decode"/> turns generated ids into text (needed for
    /// stop strings and <see cref="GenerationResult.Text"/>).
    /// </summary>
    public TextGenerator(PretrainedModel model, Func<IReadOnlyList<int>, string>? decode = null)
    {
        if (!model.IsCausalLanguageModel)
        {
            throw new LanguageModelHeadNotSupportedException(model.Config.ModelType, "text generation");
        }
        _model = model;
        _decode = decode;
    }

    /// <summary>A generator that encodes prompts and decodes output with <paramref name="tokenizer"/>.</summary>
    public TextGenerator(PretrainedModel model, TextTokenizer tokenizer) : this(model, ids => tokenizer.Decode(ids)) => _tokenizer = tokenizer;

    /// <summary>Continues a text prompt (encoded with the tokenizer, BOS added when the model uses one).</summary>
    public GenerationResult Generate(string prompt, GenerationOptions? options = null)
    {
        var tokenizer = _tokenizer ?? throw new InvalidOperationException("Text prompts need a generator built with a TextTokenizer.");
        return Generate(tokenizer.EncodeForModel(prompt), options);
    }

    /// <summary>Continues one prompt of token ids.</summary>
    public GenerationResult Generate(IReadOnlyList<int> promptIds, GenerationOptions? options = null) => Generate([promptIds], options)[0];

    /// <summary>
    /// Continues one prompt, reporting each generated token to <paramref name="onToken"/> as soon as it is chosen (EOS
    /// excluded), for streaming. <paramref name="cancellationToken"/> is checked before every forward pass, so a
    /// cancelled generation stops within one token with an <see cref="OperationCanceledException"/>.
    /// </summary>
    public GenerationResult Generate(IReadOnlyList<int> promptIds, GenerationOptions? options, Action<int>? onToken, CancellationToken cancellationToken = default) =>
        Generate([promptIds], options, onToken is null ? null : (_, token) => onToken(token), cancellationToken)[0];

    /// <summary>Continues a batch of prompts together (left-padded); results are in prompt order.</summary>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions? options = null) =>
        Generate(prompts, options, null, CancellationToken.None);

    private List<GenerationResult> Generate(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions? options, Action<int, int>? onToken, CancellationToken cancellationToken)
    {
        options ??= new GenerationOptions();
        options.Validate();
        if (prompts.Count == 0)
        {
            throw new EmptyInputException("The prompt batch");
        }
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Count == 0)
            {
                throw new EmptyInputException(prompts.Count == 1 ? "The prompt" : $"Prompt {i}");
            }
        }
        if (options.StopStrings.Count > 0 && _decode is null)
        {
            throw new InvalidOperationException("Stop strings need a decoder: build the generator with a decode function or a TextTokenizer.");
        }
        var eos = options.EosTokenIds ?? ConfigEos(_model.Config);
        int pad = options.PadTokenId ?? (eos.Count > 0 ? eos[0] : 0);
        bool wasTraining = _model.training;
        _model.eval();
        try
        {
            using var noGrad = no_grad();
            return Run(prompts, options, eos, pad, onToken, cancellationToken);
        }
        finally
        {
            _model.train(wasTraining);
        }
    }

    private List<GenerationResult> Run(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options, IReadOnlyList<int> eos, int pad, Action<int, int>? onToken, CancellationToken cancellationToken)
    {
        using var scope = NewDisposeScope();
        var device = _model.parameters().First().device;
        int batch = prompts.Count, longest = prompts.Max(p => p.Count);
        if (_model.MaxSequenceLength is { } maxLength && longest > maxLength)
        {
            throw new SequenceTooLongException(longest, maxLength);
        }
        var ids = tensor(prompts.SelectMany(p => Enumerable.Repeat((long)pad, longest - p.Count).Concat(p.Select(t => (long)t))).ToArray(), [batch, longest], device: device);
        var mask = tensor(prompts.SelectMany(p => Enumerable.Repeat(0L, longest - p.Count).Concat(Enumerable.Repeat(1L, p.Count))).ToArray(), [batch, longest], device: device);
        var rows = prompts.Select(_ => new GeneratedRow()).ToArray();
        using var cache = options.UseKvCache && _model.SupportsKvCache ? _model.CreateKvCache() : null;
        using var generator = options.Seed is { } seed ? new Generator(unchecked((ulong)seed), device) : null;
        var input = ids;
        for (int step = 0; step < options.MaxNewTokens; step++)
        {
            if (_model.MaxSequenceLength is { } limit && ids.shape[1] > limit)
            {
                MarkUnfinished(rows, GenerationStopReason.ContextFull);
                break;
            }
            cancellationToken.ThrowIfCancellationRequested();
            using var stepScope = NewDisposeScope();
            var hidden = cache is null ? _model.ForwardHidden(ids, mask) : _model.ForwardHiddenCached(input, mask, cache);
            var logits = _model.LanguageModelLogits(hidden.narrow(1, hidden.shape[1] - 1, 1)).squeeze(1).to(ScalarType.Float32);
            logits = LogitsProcessing.PenalizeRepetitions(logits, ids, mask, options.RepetitionPenalty);
            var next = LogitsProcessing.ChooseNext(logits, options, generator).data<long>().ToArray();
            for (int r = 0; r < batch; r++)
            {
                if (rows[r].Reason is not null)
                {
                    next[r] = pad;
                    continue;
                }
                if (Accept(rows[r], (int)next[r], eos, options))
                {
                    onToken?.Invoke(r, (int)next[r]);
                }
            }
            if (rows.All(r => r.Reason is not null))
            {
                break;
            }
            // Finished rows keep step with a pad token; their outputs are no longer read.
            input = tensor(next, [batch, 1], device: device).MoveToOuterDisposeScope();
            ids = cat([ids, input], 1).MoveToOuterDisposeScope();
            mask = cat([mask, ones(batch, 1, ScalarType.Int64, device)], 1).MoveToOuterDisposeScope();
        }
        MarkUnfinished(rows, GenerationStopReason.MaxNewTokens);
        return [.. rows.Select(r => new GenerationResult(r.Tokens, r.Text ?? (_decode is null ? null : _decode(r.Tokens)), r.Reason!.Value))];
    }

    /// <summary>Records a chosen token; false when it ended the row as EOS (not part of the output).</summary>
    private bool Accept(GeneratedRow row, int token, IReadOnlyList<int> eos, GenerationOptions options)
    {
        if (eos.Contains(token))
        {
            row.Reason = GenerationStopReason.EndOfSequence;
            return false;
        }
        row.Tokens.Add(token);
        if (options.StopStrings.Count > 0)
        {
            var text = _decode!(row.Tokens);
            var hits = options.StopStrings.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(i => i >= 0).ToList();
            if (hits.Count > 0)
            {
                row.Text = text[..hits.Min()];
                row.Reason = GenerationStopReason.StopString;
            }
        }
        return true;
    }

    private static void MarkUnfinished(IEnumerable<GeneratedRow> rows, GenerationStopReason reason)
    {
        foreach (var row in rows.Where(r => r.Reason is null))
        {
            row.Reason = reason;
        }
    }

    private static IReadOnlyList<int> ConfigEos(ModelConfig config) => config switch
    {
        LlamaConfig { EosTokenId: { } id } => [id],
        Gpt2Config { EosTokenId: { } id } => [id],
        _ => [],
    };

    private sealed class GeneratedRow
    {
        public List<int> Tokens { get; } = [];
        public string? Text { get; set; }
        public GenerationStopReason? Reason { get; set; }
    }
}
