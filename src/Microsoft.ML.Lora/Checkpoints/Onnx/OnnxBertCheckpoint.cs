using Microsoft.ML.Lora.Models.Bert;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>
/// A BERT encoder read from ONNX: its HF config and its weights under HF names in torch's layout
/// (<c>[out, in]</c> Linear weights). Disposing frees the tensors.
/// </summary>
public sealed class OnnxBertCheckpoint : IDisposable
{
    internal OnnxBertCheckpoint(BertConfig config, Dictionary<string, Tensor> weights, bool poolerFromGraph)
    {
        Config = config;
        Weights = weights;
        PoolerFromGraph = poolerFromGraph;
    }

    /// <summary>The config recovered from the graph (model_type "bert"; dropout probabilities are HF's defaults, which an inference graph cannot show).</summary>
    public BertConfig Config { get; }

    /// <summary>The weights by HF name (BertModel's, without a "bert." prefix).</summary>
    public IReadOnlyDictionary<string, Tensor> Weights { get; }

    /// <summary>
    /// False when the export pruned BertPooler (graphs whose only output is last_hidden_state): the pooler is then
    /// the identity (weight I, bias 0), so a classifier on top reads tanh(hidden state of [CLS]).
    /// </summary>
    public bool PoolerFromGraph { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var tensor in Weights.Values)
        {
            tensor.Dispose();
        }
    }
}
