using System.Text.Json.Nodes;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Bert;
using Microsoft.ML.Lora.Models.Gpt2;
using Microsoft.ML.Lora.Models.Llama;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

public class HfConfigFileTests
{
    // Llama-3.2-1B's config.json (abridged only of keys this library ignores).
    private const string Llama32Config = """
        {"architectures":["LlamaForCausalLM"],"attention_bias":false,"bos_token_id":128000,"eos_token_id":[128001,128008,128009],
         "head_dim":64,"hidden_act":"silu","hidden_size":2048,"intermediate_size":8192,"max_position_embeddings":131072,
         "mlp_bias":false,"model_type":"llama","num_attention_heads":32,"num_hidden_layers":16,"num_key_value_heads":8,
         "rms_norm_eps":1e-05,"rope_scaling":{"factor":32.0,"high_freq_factor":4.0,"low_freq_factor":1.0,
         "original_max_position_embeddings":8192,"rope_type":"llama3"},"rope_theta":500000.0,"tie_word_embeddings":true,
         "torch_dtype":"bfloat16","transformers_version":"4.45.0.dev0","vocab_size":128256}
        """;

    [Fact]
    public void TinyRandomGpt2ConfigParsesToGpt2Config()
    {
        var config = Assert.IsType<Gpt2Config>(HfConfigFile.Read(SharedData.PathOf("models/tiny-random-gpt2")));
        Assert.Equal((1000, 32, 5, 4, 512), (config.VocabSize, config.NEmbd, config.NLayer, config.NHead, config.NPositions));
        Assert.Null(config.NInner);
        Assert.Equal(128, config.InnerSize);
        Assert.Equal("gelu_new", config.ActivationFunction);
        Assert.Equal(98, config.EosTokenId);
        Assert.Equal(ScalarType.Float32, HfConfigFile.WeightsDtype(config));
        Assert.Equal("GPT2LMHeadModel", config.ExtraFields!["architectures"][0].GetString());
        Assert.Equal(512, config.ExtraFields["n_ctx"].GetInt32());
    }

    [Fact]
    public void Llama32ConfigParsesWithRopeScalingGqaAndTokenIdLists()
    {
        var config = Assert.IsType<LlamaConfig>(HfConfigFile.Parse(Llama32Config));
        Assert.Equal((128256, 2048, 8192, 16, 32, 8, 64), (config.VocabSize, config.HiddenSize, config.IntermediateSize,
            config.NumHiddenLayers, config.NumAttentionHeads, config.KeyValueHeads, config.HeadDimension));
        Assert.Equal(500000.0, config.RopeTheta);
        Assert.Equal(1e-5, config.RmsNormEps);
        Assert.Equal("llama3", config.RopeScaling!.Kind);
        Assert.Equal((32.0, 1.0, 4.0, 8192), (config.RopeScaling.Factor, config.RopeScaling.LowFreqFactor, config.RopeScaling.HighFreqFactor, config.RopeScaling.OriginalMaxPositionEmbeddings));
        Assert.True(config.TieWordEmbeddings);
        Assert.Equal(128001, config.EosTokenId);   // the first of the list
        Assert.Equal(ScalarType.BFloat16, HfConfigFile.WeightsDtype(config));
        Assert.Equal(ScalarType.Float16, HfConfigFile.WeightsDtype(config, ScalarType.Float16));
    }

    [Fact]
    public void Qwen2AndMistralParseAsTheLlamaFamily()
    {
        var qwen = Assert.IsType<LlamaConfig>(HfConfigFile.Parse("""
            {"model_type":"qwen2","vocab_size":151936,"hidden_size":896,"intermediate_size":4864,"num_hidden_layers":24,
             "num_attention_heads":14,"num_key_value_heads":2,"rope_theta":1000000.0,"sliding_window":32768,"tie_word_embeddings":true,"dtype":"bfloat16"}
            """));
        Assert.Equal("qwen2", qwen.ModelType);
        Assert.True(qwen.QkvBias);
        Assert.False(qwen.OutputBias);
        Assert.Equal(64, qwen.HeadDimension);
        Assert.Equal("bfloat16", qwen.TorchDtype);   // newer transformers write "dtype"
        var mistral = Assert.IsType<LlamaConfig>(HfConfigFile.Parse("""
            {"model_type":"mistral","vocab_size":32000,"hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,
             "num_attention_heads":32,"num_key_value_heads":8,"sliding_window":4096}
            """));
        Assert.Equal(4096, mistral.SlidingWindow);
        Assert.Equal(8, mistral.KeyValueHeads);
    }

    [Fact]
    public void BertFamilyConfigsParseWithTheirOwnKeyNames()
    {
        var bert = Assert.IsType<BertConfig>(HfConfigFile.Parse("""
            {"model_type":"bert","vocab_size":30522,"hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,
             "intermediate_size":3072,"hidden_act":"gelu","type_vocab_size":2,"max_position_embeddings":512}
            """));
        Assert.Equal((768, 12, 12, 3072), (bert.Hidden, bert.Layers, bert.Heads, bert.Intermediate));
        var distil = Assert.IsType<BertConfig>(HfConfigFile.Parse("""
            {"model_type":"distilbert","vocab_size":30522,"dim":768,"n_layers":6,"n_heads":12,"hidden_dim":3072,
             "activation":"gelu","max_position_embeddings":512,"seq_classif_dropout":0.2}
            """));
        Assert.True(distil.IsDistilBert);
        Assert.Equal((768, 6, 12, 3072, "gelu"), (distil.Hidden, distil.Layers, distil.Heads, distil.Intermediate, distil.ActivationName));
        var roberta = Assert.IsType<BertConfig>(HfConfigFile.Parse("""
            {"model_type":"roberta","vocab_size":50265,"hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,
             "intermediate_size":3072,"max_position_embeddings":514,"pad_token_id":1,"type_vocab_size":1}
            """));
        Assert.Equal(512, roberta.MaxPositions);
    }

    [Theory]
    [InlineData("""{"vocab_size":10}""", "missing required field 'model_type'")]
    [InlineData("""{"model_type":"","vocab_size":10}""", "missing required field 'model_type'")]
    [InlineData("""{"model_type":"llama","vocab_size":10,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2}""", "missing required field 'hidden_size'")]
    [InlineData("""{"model_type":"gpt2","vocab_size":10,"n_embd":null,"n_layer":1,"n_head":2}""", "missing required field 'n_embd'")]
    [InlineData("""{"model_type":"distilbert","vocab_size":10,"dim":8,"n_layers":1,"n_heads":2}""", "missing required field 'hidden_dim'")]
    [InlineData("""{"model_type":"gpt2","vocab_size":10,"n_embd":"wide","n_layer":1,"n_head":2}""", "field 'n_embd' has a value of the wrong type")]
    [InlineData("""{"model_type":"gpt2","vocab_size":10,"n_embd":9,"n_layer":1,"n_head":2}""", "must be a multiple of n_head")]
    [InlineData("""{"model_type":"llama",""", "not valid JSON")]
    [InlineData("""[1,2]""", "must be a JSON object")]
    public void E011_BadConfigJsonRaisesInvalidModelConfigNamingTheFileAndField(string json, string problem)
    {
        using var folder = new TempFolder();
        var path = folder.File("config.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<InvalidModelConfigException>(() => HfConfigFile.Read(folder.Path));
        Assert.Equal(path, error.ConfigSource);
        Assert.Contains(problem, error.Problem);
        Assert.StartsWith(path, error.Message);
    }

    [Fact]
    public void E012_UnsupportedModelTypeListsTheSupportedOnes()
    {
        var error = Assert.Throws<UnsupportedModelTypeException>(() => HfConfigFile.Parse("""{"model_type":"t5","d_model":512}""", "some/config.json"));
        Assert.Equal("t5", error.ModelType);
        Assert.Contains("some/config.json", error.Message);
        foreach (var known in new[] { "bert", "distilbert", "gpt2", "llama", "mistral", "qwen2", "roberta" })
        {
            Assert.Contains(known, error.Supported);
            Assert.Contains(known, error.Message);
        }
    }

    [Fact]
    public void AConfigTypeWithoutConstructorParsesButCannotBeBuilt()
    {
        ModelRegistry.RegisterConfig("test-config-only", typeof(LlamaConfig));
        var config = HfConfigFile.Parse("""{"model_type":"test-config-only","vocab_size":8,"hidden_size":8,"num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":8}""");
        var error = Assert.Throws<UnsupportedModelTypeException>(() => ModelRegistry.Create(config, "cfg"));
        Assert.DoesNotContain("test-config-only", error.Supported);
        Assert.Contains("llama", error.Supported);
    }

    [Fact]
    public void WritingKeepsUnknownKeysSortsThemAndRecordsTheWeightsDtype()
    {
        using var folder = new TempFolder();
        var original = Assert.IsType<LlamaConfig>(HfConfigFile.Parse(Llama32Config));
        HfConfigFile.Write(original, folder.File("config.json"), ScalarType.Float32);
        var text = File.ReadAllText(folder.File("config.json"));
        var keys = JsonNode.Parse(text)!.AsObject().Select(kv => kv.Key).ToList();
        Assert.Equal(keys.Order(StringComparer.Ordinal), keys);
        Assert.Contains("\"transformers_version\": \"4.45.0.dev0\"", text);
        Assert.Contains("\"torch_dtype\": \"float32\"", text);
        var reread = Assert.IsType<LlamaConfig>(HfConfigFile.Read(folder.Path));
        Assert.Equal("llama3", reread.RopeScaling!.Kind);
        Assert.Equal((original.HiddenSize, original.KeyValueHeads, original.RopeTheta), (reread.HiddenSize, reread.KeyValueHeads, reread.RopeTheta));
        Assert.Equal(ScalarType.Float32, HfConfigFile.WeightsDtype(reread));
    }

    [Fact]
    public void UnusableTorchDtypeIsRefusedUnlessOverridden()
    {
        var config = HfConfigFile.Parse("""{"model_type":"gpt2","vocab_size":10,"n_embd":8,"n_layer":1,"n_head":2,"torch_dtype":"int8"}""");
        Assert.Throws<InvalidModelConfigException>(() => HfConfigFile.WeightsDtype(config));
        Assert.Equal(ScalarType.Float32, HfConfigFile.WeightsDtype(config, ScalarType.Float32));
    }
}
