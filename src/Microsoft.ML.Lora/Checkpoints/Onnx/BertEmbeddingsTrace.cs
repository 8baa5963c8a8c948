namespace Microsoft.ML.Lora.Checkpoints.Onnx;

/// <summary>
/// HF BertEmbeddings as traced in the graph: LayerNorm((word[input_ids] + token_type[token_type_ids]) +
/// position[0..T-1]). Each table is found by what indexes it, not by its name.
/// </summary>
internal sealed record BertEmbeddingsTrace(string Word, string Position, string TokenType, OnnxLayerNorm Norm)
{
    /// <summary>The graph input holding token ids (HF's export names).</summary>
    public const string InputIds = "input_ids";

    /// <summary>The graph input holding segment ids.</summary>
    public const string TokenTypeIds = "token_type_ids";

    /// <summary>Traces the embeddings from the <c>input_ids</c> input.</summary>
    public static BertEmbeddingsTrace Trace(OnnxPatterns patterns)
    {
        var graph = patterns.Graph;
        foreach (var required in new[] { InputIds, TokenTypeIds })
        {
            if (!graph.Inputs.Contains(required))
            {
                throw patterns.Fail($"the graph has no '{required}' input (inputs: {string.Join(", ", graph.Inputs)})");
            }
        }
        var word = TableIndexedBy(patterns, InputIds)
            ?? throw patterns.Fail($"no Gather of a constant [vocab, hidden] table reads '{InputIds}' (word embeddings)");
        string sum = word.Output;
        string? position = null, tokenType = null;
        for (int term = 0; term < 2; term++)
        {
            var add = graph.ConsumersOfType(sum, "Add").FirstOrDefault()
                ?? throw patterns.Fail($"the word embeddings '{sum}' are not summed with position and token type embeddings");
            var other = OnnxGraph.OtherInput(add, sum) ?? throw patterns.Fail($"{OnnxGraph.Describe(add)} is not a sum of two embeddings");
            var gather = graph.Producer(other);
            if (gather is not { OpType: "Gather" } || graph.ConstantShape(gather.Input[0]) is not [_, _])
            {
                throw patterns.Fail($"'{other}' added to the embeddings is not a lookup in a constant table");
            }
            if (gather.Input[1] == TokenTypeIds)
            {
                tokenType = gather.Input[0];
            }
            else
            {
                RequireAbsolutePositions(patterns, gather.Input[1]);
                position = gather.Input[0];
            }
            sum = add.Output[0];
        }
        if (position is null || tokenType is null)
        {
            throw patterns.Fail($"the embeddings need one position and one token type table (found {(position is null ? "no" : "a")} position table)");
        }
        return new BertEmbeddingsTrace(word.Table, position, tokenType, patterns.LayerNormOf(sum, "embeddings"));
    }

    /// <summary>The HF names of the embeddings' tensors paired with the graph's.</summary>
    public IEnumerable<(string Name, string Tensor, bool Transpose)> Weights()
    {
        yield return ("embeddings.word_embeddings.weight", Word, false);
        yield return ("embeddings.position_embeddings.weight", Position, false);
        yield return ("embeddings.token_type_embeddings.weight", TokenType, false);
        yield return ("embeddings.LayerNorm.weight", Norm.Weight, false);
        yield return ("embeddings.LayerNorm.bias", Norm.Bias, false);
    }

    private static (string Table, string Output)? TableIndexedBy(OnnxPatterns patterns, string indices) =>
        patterns.Graph.ConsumersOfType(indices, "Gather")
            .Where(g => g.Input[1] == indices && patterns.Graph.ConstantShape(g.Input[0]) is [_, _])
            .Select(g => ((string Table, string Output)?)(g.Input[0], g.Output[0]))
            .FirstOrDefault();

    // BERT's positions are 0..T-1, exported as a Slice of the position_ids buffer (an arange) from 0.
    // RoBERTa's padding-offset positions (a CumSum of the mask) would need a different model.
    private static void RequireAbsolutePositions(OnnxPatterns patterns, string indices)
    {
        var graph = patterns.Graph;
        var producer = graph.Producer(indices);
        long[]? table = producer is { OpType: "Slice" } slice && graph.Integers(slice.Input[1]) is [0] ? graph.Integers(slice.Input[0])
            : graph.Integers(indices);
        if (table is null || table.Length == 0 || table.Where((v, i) => v != i).Any())
        {
            throw patterns.Fail($"the position embedding is indexed by '{indices}' ({(producer is null ? "a constant" : OnnxGraph.Describe(producer))}), not by the absolute positions 0..T-1 that BERT uses");
        }
    }
}
