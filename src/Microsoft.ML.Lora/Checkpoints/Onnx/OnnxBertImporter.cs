using Google.Protobuf;
using Microsoft.ML.Lora.Models.Bert;
using Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>What <see cref="OnnxBertImporter.Convert"/> wrote.</summary>
/// <param name="Folder">The Hugging Face folder.</param>
/// <param name="Config">The config recovered from the graph.</param>
/// <param name="PoolerFromGraph">See <see cref="OnnxBertCheckpoint.PoolerFromGraph"/>.</param>
/// <param name="SentenceEmbedding">The sentence-embedding settings written, if any.</param>
/// <param name="Files">Every file written.</param>
public sealed record OnnxImportResult(string Folder, BertConfig Config, bool PoolerFromGraph, SentenceEmbeddingConfig? SentenceEmbedding, IReadOnlyList<string> Files);

/// <summary>
/// Imports BERT-family encoders exported to ONNX (torch.onnx / optimum exports of HF BertModel) as Hugging Face
/// folders. Exporters keep the names of biases but fold MatMul weights into anonymous, transposed initializers
/// (<c>927</c>, <c>onnx::MatMul_788</c>), and decompose LayerNorm and GELU into primitive operators, so every tensor
/// is named by tracing the graph from <c>input_ids</c> (see <see cref="BertEmbeddingsTrace"/>, <see cref="BertLayerTrace"/>),
/// and heads, epsilon and activation are read from the graph's constants. The ONNX protobuf is read by OnnxSharp.
/// </summary>
public static class OnnxBertImporter
{
    /// <summary>Reads an .onnx file. The caller disposes the result.</summary>
    /// <exception cref="OnnxFormatException">The file is not an ONNX model.</exception>
    /// <exception cref="UnsupportedOnnxGraphException">The graph is not a BERT encoder this importer recognises; the message names what.</exception>
    public static OnnxBertCheckpoint Read(string onnxPath)
    {
        var path = Path.GetFullPath(onnxPath);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"ONNX model '{path}' does not exist.", path);
        }
        using var stream = File.OpenRead(path);
        return Read(Parse(stream, path), path);
    }

    /// <summary>Reads an ONNX model already parsed; <paramref name="source"/> names it in errors.</summary>
    public static OnnxBertCheckpoint Read(ModelProto model, string source)
    {
        ArgumentNullException.ThrowIfNull(model);
        Runtime.TorchDevices.EnsureInitialized();
        if (model.Graph is null || model.Graph.Node.Count == 0)
        {
            throw new OnnxFormatException(source, "the model has no graph (not an ONNX model, or an empty one)");
        }
        var graph = new OnnxGraph(model.Graph, source);
        var trace = BertGraphTrace.Trace(graph);
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, tensorName, transpose) in trace.Weights)
            {
                using var stored = OnnxTensorData.ToTorch(graph.Constant(tensorName)!, source);
                weights[name] = transpose ? stored.t().contiguous() : stored.clone();
            }
            if (!trace.HasPooler)
            {
                weights["pooler.dense.weight"] = eye(trace.Config.Hidden, dtype: ScalarType.Float32);
                weights["pooler.dense.bias"] = zeros(trace.Config.Hidden, dtype: ScalarType.Float32);
            }
            return new OnnxBertCheckpoint(trace.Config, weights, trace.HasPooler);
        }
        catch
        {
            foreach (var tensor in weights.Values)
            {
                tensor.Dispose();
            }
            throw;
        }
    }

    /// <summary>
    /// Converts an ONNX BERT encoder and its WordPiece <c>vocab.txt</c> into a Hugging Face folder: config.json
    /// (architectures BertModel), model.safetensors, vocab.txt, tokenizer_config.json, special_tokens_map.json, and
    /// with <paramref name="sentenceEmbedding"/> the sentence-transformers pooling files (see <see cref="SentenceEmbeddingConfig"/>).
    /// This is what <c>mllora convert onnx</c> runs.
    /// </summary>
    /// <exception cref="OnnxFormatException">The file is not an ONNX model.</exception>
    /// <exception cref="UnsupportedOnnxGraphException">The graph is not a BERT encoder this importer recognises.</exception>
    /// <exception cref="Tokenization.InvalidTokenizerException">The vocabulary is empty, lacks BERT's special tokens or is larger than the embedding.</exception>
    public static OnnxImportResult Convert(string onnxPath, string vocabPath, string outputFolder, SentenceEmbeddingConfig? sentenceEmbedding = null)
    {
        var vocabulary = BertVocabularyFiles.ReadVocabulary(vocabPath);
        using var checkpoint = Read(onnxPath);
        BertVocabularyFiles.RequireFits(vocabulary, checkpoint.Config, vocabPath);
        var folder = Path.GetFullPath(outputFolder);
        Directory.CreateDirectory(folder);
        var files = SafetensorsShardWriter.Write(folder, checkpoint.Weights, metadata: new Dictionary<string, string> { ["format"] = "pt" }).ToList();
        var configPath = Path.Combine(folder, HfConfigFile.FileName);
        HfConfigFile.Write(checkpoint.Config, configPath, ScalarType.Float32, "BertModel");
        files.Add(configPath);
        files.AddRange(BertVocabularyFiles.Write(folder, vocabPath, vocabulary, sentenceEmbedding?.MaxSeqLength ?? checkpoint.Config.MaxPositionEmbeddings));
        if (sentenceEmbedding is not null)
        {
            files.AddRange(sentenceEmbedding.Write(folder, checkpoint.Config.Hidden));
        }
        return new OnnxImportResult(folder, checkpoint.Config, checkpoint.PoolerFromGraph, sentenceEmbedding, files);
    }

    private static ModelProto Parse(Stream stream, string path)
    {
        try
        {
            return ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException(path, $"the file is not an ONNX protobuf ({e.Message})", e);
        }
    }
}
