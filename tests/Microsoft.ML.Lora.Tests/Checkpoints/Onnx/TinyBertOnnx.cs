using Google.Protobuf;
using Onnx;

namespace Microsoft.ML.Lora.Tests.Checkpoints.Onnx;

/// <summary>
/// Builds a small random BERT encoder as an ONNX graph laid out the way torch.onnx exports HF's BertModel
/// (opset 13): decomposed LayerNorm and GELU, heads split by a Reshape whose shape is a Concat of Shape-derived
/// sizes and constants, positions sliced from a position_ids constant, an additive (1 - mask)·-10000 mask, the
/// pooler as Gemm + Tanh. Initializer names are meaningless ("t17") unless <see cref="HfBiasNames"/>, and the
/// projections are emitted value first, so nothing but the wiring can tell query from key.
/// </summary>
internal sealed class TinyBertOnnx
{
    public int Hidden { get; init; } = 16;
    public int Heads { get; init; } = 4;
    public int Layers { get; init; } = 2;
    public int Intermediate { get; init; } = 24;
    public int Vocab { get; init; } = 40;
    public int Positions { get; init; } = 20;
    public float Eps { get; init; } = 1e-7f;
    /// <summary>"erf" (exact gelu), "tanh" (gelu_new) or "sigmoid" (not a BERT activation).</summary>
    public string Activation { get; init; } = "erf";
    public bool Pooler { get; init; } = true;
    public bool TokenTypes { get; init; } = true;
    /// <summary>Name biases, norms and embeddings as HF does (MatMul weights stay anonymous, as exporters leave them).</summary>
    public bool HfBiasNames { get; init; }
    /// <summary>Give layer 0's query bias the name of its key bias and vice versa (a mislabelled graph).</summary>
    public bool SwapQueryKeyBiasNames { get; init; }
    /// <summary>Divide the attention scores by this instead of sqrt(head_dim).</summary>
    public float? ScoreDivisor { get; init; }

    private readonly GraphProto _graph = new() { Name = "tiny-bert" };
    private Random _random = new(0);
    private int _counter;

    public byte[] Build(int seed = 0)
    {
        _random = new Random(seed);
        _graph.Node.Clear();
        _graph.Initializer.Clear();
        foreach (var name in TokenTypes ? new[] { "input_ids", "attention_mask", "token_type_ids" } : ["input_ids", "attention_mask"])
        {
            _graph.Input.Add(Value(name, 7, "batch", "sequence"));
        }
        var mask = Op("Mul", Op("Sub", Scalar(1f), Op("Cast", Op("Unsqueeze", Op("Unsqueeze", "attention_mask", Ints(1)), Ints(2)), attrs: Int("to", 1))), Scalar(-10000f));
        Rename(mask, "mask_value");
        var sequence = Op("Unsqueeze", Op("Gather", Op("Shape", "input_ids"), ScalarInt(1)), Ints(0));
        var positionIds = Weight(null, [1, Positions], Enumerable.Range(0, Positions).Select(i => (long)i).ToArray());
        var positions = Op("Slice", positionIds, Ints(0), sequence, Ints(1), Ints(1));
        var words = Op("Gather", Weight("embeddings.word_embeddings.weight", Vocab, Hidden), "input_ids");
        var summed = TokenTypes ? Op("Add", words, Op("Gather", Weight("embeddings.token_type_embeddings.weight", 2, Hidden), "token_type_ids")) : words;
        summed = Op("Add", summed, Op("Gather", Weight("embeddings.position_embeddings.weight", Positions, Hidden), positions));
        var h = LayerNorm(summed, "embeddings.LayerNorm");
        for (int layer = 0; layer < Layers; layer++)
        {
            h = Layer(h, $"encoder.layer.{layer}.", layer);
        }
        Rename(h, "last_hidden_state");
        _graph.Output.Add(Value("last_hidden_state", 1, "batch", "sequence", Hidden.ToString()));
        if (Pooler)
        {
            var first = Op("Gather", "last_hidden_state", ScalarInt(0), attrs: Int("axis", 1));
            var gemm = Op("Gemm", first, Weight("pooler.dense.weight", Hidden, Hidden), Weight("pooler.dense.bias", Hidden), attrs: Int("transB", 1));
            Rename(Op("Tanh", gemm), "pooler_output");
            _graph.Output.Add(Value("pooler_output", 1, "batch", Hidden.ToString()));
        }
        var model = new ModelProto { IrVersion = 7, ProducerName = "tests", Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model.ToByteArray();
    }

    private string Layer(string h, string prefix, int layer)
    {
        int headDim = Hidden / Heads;
        string Split(string x) => Op("Reshape", x, Op("Concat", Dim(x, 0), Dim(x, 1), Ints(Heads), Ints(headDim), attrs: Int("axis", 0)));
        bool swap = SwapQueryKeyBiasNames && layer == 0;
        var value = Linear(h, prefix + "attention.self.value", Hidden, Hidden);
        var query = Linear(h, prefix + (swap ? "attention.self.key" : "attention.self.query"), Hidden, Hidden);
        var key = Linear(h, prefix + (swap ? "attention.self.query" : "attention.self.key"), Hidden, Hidden);
        var keys = Op("Transpose", Split(key), attrs: Perm(0, 2, 3, 1));
        var values = Op("Transpose", Split(value), attrs: Perm(0, 2, 1, 3));
        var queries = Op("Transpose", Split(query), attrs: Perm(0, 2, 1, 3));
        var scores = Op("Div", Op("MatMul", queries, keys), Scalar(ScoreDivisor ?? MathF.Sqrt(headDim)));
        var probabilities = Op("Softmax", Op("Add", scores, "mask_value"), attrs: Int("axis", -1));
        var context = Op("Transpose", Op("MatMul", probabilities, values), attrs: Perm(0, 2, 1, 3));
        var merged = Op("Reshape", context, Op("Concat", Dim(context, 0), Dim(context, 1), Ints(Hidden), attrs: Int("axis", 0)));
        var attention = LayerNorm(Op("Add", Linear(merged, prefix + "attention.output.dense", Hidden, Hidden), h), prefix + "attention.output.LayerNorm");
        var expanded = Linear(attention, prefix + "intermediate.dense", Hidden, Intermediate);
        var output = Linear(Activate(expanded), prefix + "output.dense", Intermediate, Hidden);
        return LayerNorm(Op("Add", output, attention), prefix + "output.LayerNorm");
    }

    private string Activate(string x) => Activation switch
    {
        "erf" => Op("Mul", Op("Mul", x, Op("Add", Op("Erf", Op("Div", x, Scalar(1.4142135f))), Scalar(1f))), Scalar(0.5f)),
        "tanh" => Op("Mul", Op("Mul", x, Op("Add", Op("Tanh", Op("Mul", Op("Add", x, Op("Mul", Op("Pow", x, Scalar(3f)), Scalar(0.044715f))), Scalar(0.7978846f))), Scalar(1f))), Scalar(0.5f)),
        _ => Op("Sigmoid", x),
    };

    private string Linear(string x, string name, int inFeatures, int outFeatures) =>
        Op("Add", Weight(name + ".bias", outFeatures), Op("MatMul", x, Weight(null, inFeatures, outFeatures)));

    private string LayerNorm(string x, string name)
    {
        var centred = Op("Sub", x, Op("ReduceMean", x, attrs: Ints("axes", -1)));
        var variance = Op("ReduceMean", Op("Pow", centred, Scalar(2f)), attrs: Ints("axes", -1));
        var normalised = Op("Div", centred, Op("Sqrt", Op("Add", variance, Scalar(Eps))));
        return Op("Add", Op("Mul", normalised, Weight(name + ".weight", Hidden, scale: 0.2f, offset: 1f)), Weight(name + ".bias", Hidden));
    }

    private string Dim(string x, long axis) => Op("Unsqueeze", Op("Gather", Op("Shape", x), ScalarInt(axis)), Ints(0));

    private string Op(string type, params string[] inputs) => Op(type, inputs, null);

    private string Op(string type, string a, AttributeProto attrs) => Op(type, [a], attrs);

    private string Op(string type, string a, string b, AttributeProto attrs) => Op(type, [a, b], attrs);

    private string Op(string type, string a, string b, string c, AttributeProto attrs) => Op(type, [a, b, c], attrs);

    private string Op(string type, string a, string b, string c, string d, AttributeProto attrs) => Op(type, [a, b, c, d], attrs);

    private string Op(string type, string[] inputs, AttributeProto? attrs)
    {
        var output = $"v{_counter++}";
        var node = new NodeProto { OpType = type, Name = $"{type}_{_graph.Node.Count}", Input = { inputs }, Output = { output } };
        if (attrs is not null)
        {
            node.Attribute.Add(attrs);
        }
        _graph.Node.Add(node);
        return output;
    }

    private void Rename(string value, string name)
    {
        var node = _graph.Node.Single(n => n.Output.Contains(value));
        node.Output[node.Output.IndexOf(value)] = name;
        foreach (var reader in _graph.Node)
        {
            for (int i = 0; i < reader.Input.Count; i++)
            {
                if (reader.Input[i] == value)
                {
                    reader.Input[i] = name;
                }
            }
        }
    }

    private string Weight(string? hfName, params int[] dims) => Weight(hfName, dims, scale: 0.3f, offset: 0f);

    private string Weight(string? hfName, int dim, float scale, float offset) => Weight(hfName, [dim], scale, offset);

    private string Weight(string? hfName, int[] dims, float scale, float offset)
    {
        var values = new float[dims.Aggregate(1, (a, d) => a * d)];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = offset + scale * (float)(_random.NextDouble() * 2 - 1);
        }
        var name = HfBiasNames && hfName is not null ? hfName : $"t{_graph.Initializer.Count + 17}";
        _graph.Initializer.Add(new TensorProto { Name = name, DataType = 1, Dims = { dims.Select(d => (long)d) }, RawData = ByteString.CopyFrom(values.SelectMany(BitConverter.GetBytes).ToArray()) });
        return name;
    }

    private string Weight(string? hfName, long[] dims, long[] values)
    {
        var name = $"t{_graph.Initializer.Count + 17}";
        _graph.Initializer.Add(new TensorProto { Name = name, DataType = 7, Dims = { dims }, Int64Data = { values } });
        return name;
    }

    private string Scalar(float value) => ConstantNode(new TensorProto { DataType = 1, FloatData = { value } });

    private string ScalarInt(long value) => ConstantNode(new TensorProto { DataType = 7, Int64Data = { value } });

    private string Ints(params long[] values) => ConstantNode(new TensorProto { DataType = 7, Dims = { values.Length }, Int64Data = { values } });

    private string ConstantNode(TensorProto value)
    {
        var output = $"c{_counter++}";
        _graph.Node.Add(new NodeProto { OpType = "Constant", Output = { output }, Attribute = { new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value } } });
        return output;
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Ints(string name, params long[] values) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { values } };

    private static AttributeProto Perm(params long[] values) => Ints("perm", values);

    private static ValueInfoProto Value(string name, int elementType, params string[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(long.TryParse(dim, out var size) ? new TensorShapeProto.Types.Dimension { DimValue = size } : new TensorShapeProto.Types.Dimension { DimParam = dim });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } } };
    }
}
