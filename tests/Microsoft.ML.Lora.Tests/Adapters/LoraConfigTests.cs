using System.Text.Json;
using Microsoft.ML.Lora.Adapters;
using static Microsoft.ML.Lora.Tests.Adapters.AdapterTestModels;

namespace Microsoft.ML.Lora.Tests.Adapters;

/// <summary>PEFT's adapter_config.json semantics: parsing, round-trips, validation and module selection.</summary>
public class LoraConfigTests
{
    [Theory]
    [InlineData("adapters/peft-gpt2-emotion")]
    [InlineData("adapters/peft-distilbert-imdb")]
    public void RealPeftConfigsRoundTripToAnEquivalentJson(string folder)
    {
        var path = Path.Combine(SharedData.PathOf(folder), LoraConfig.FileName);
        var original = File.ReadAllText(path);
        var config = LoraConfig.Load(path);
        Assert.Equal(8, config.Rank);
        Assert.Equal("SEQ_CLS", config.TaskType);
        Assert.Equal(LoraInitialization.Default, config.InitLoraWeights);
        JsonAssert.Equivalent(original, config.ToJson());
        Assert.Empty(config.UnsupportedSettings());
    }

    [Fact]
    public void TheDistilbertConfigMeansWhatPeftMeans()
    {
        var config = LoraConfig.Load(SharedData.PathOf("adapters/peft-distilbert-imdb"));
        Assert.Equal(16, config.Alpha);
        Assert.Equal(0.1, config.Dropout);
        Assert.Equal(["v_lin", "q_lin"], config.TargetModules);
        Assert.Equal(["classifier", "score"], config.ModulesToSave);
        Assert.Equal(LoraBias.None, config.Bias);
        Assert.True(config.AdditionalFields!.ContainsKey("megatron_core"));
        var gpt2 = LoraConfig.Load(SharedData.PathOf("adapters/peft-gpt2-emotion"));
        Assert.True(gpt2.FanInFanOut);
        Assert.Null(gpt2.ModulesToSave);
        Assert.Equal(["classifier", "score"], gpt2.EffectiveModulesToSave);   // SEQ_CLS saves the head anyway
    }

    [Fact]
    public void StringFormsAreKept()
    {
        var config = LoraConfig.FromJson("""{"r": 4, "lora_alpha": 8, "target_modules": ".*\\.(q|v)_proj", "exclude_modules": "lm_head", "layers_to_transform": 1, "layers_pattern": "layers", "init_lora_weights": "pissa_niter_4", "use_qalora": false}""", "test");
        Assert.Null(config.TargetModules);
        Assert.Equal(@".*\.(q|v)_proj", config.TargetModulesRegex);
        Assert.Equal("lm_head", config.ExcludeModulesRegex);
        Assert.Equal([1], config.LayersToTransform);
        Assert.Equal(["layers"], config.LayersPattern);
        Assert.Equal(LoraInitialization.Pissa, config.InitLoraWeights);
        using var written = JsonDocument.Parse(config.ToJson());
        Assert.Equal(JsonValueKind.String, written.RootElement.GetProperty("target_modules").ValueKind);
        Assert.Equal("pissa_niter_4", written.RootElement.GetProperty("init_lora_weights").GetString());
    }

    [Fact]
    public void SettingsThatChangeMeaningAreReported()
    {
        var config = LoraConfig.FromJson("""{"r": 4, "target_modules": ["q_proj"], "use_qalora": true, "layer_replication": [[0, 2]], "lora_bias": false, "megatron_core": "megatron.core", "new_future_flag": 3}""", "test");
        Assert.Equal(["layer_replication = [[0, 2]]", "new_future_flag = 3", "use_qalora = true"], config.UnsupportedSettings().Order());
    }

    [Theory]
    [InlineData("""{"r": 0, "target_modules": ["q_proj"]}""", typeof(ArgumentOutOfRangeException))]
    [InlineData("""{"r": 8, "lora_alpha": -2, "target_modules": ["q_proj"]}""", typeof(ArgumentOutOfRangeException))]
    [InlineData("""{"r": 8, "rank_pattern": {"q_proj": 0}, "target_modules": ["q_proj"]}""", typeof(ArgumentOutOfRangeException))]
    [InlineData("""{"r": 8, "target_modules": []}""", typeof(ArgumentException))]
    [InlineData("""{"r": 8, "target_modules": "(unclosed"}""", typeof(ArgumentException))]
    [InlineData("""{"r": 8, "target_modules": ["q_proj"], "peft_type": "IA3"}""", typeof(ArgumentException))]
    public void E016_InvalidAdapterConfigValuesAreRejectedByValidate(string json, Type expected)
    {
        var config = LoraConfig.FromJson(json, "test");
        var error = Assert.Throws(expected, () => config.Validate("adapter_config.json"));
        Assert.Contains("adapter_config.json", error.Message);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"r": "eight"}""")]
    [InlineData("""{"bias": "some"}""")]
    [InlineData("""{"target_modules": 3}""")]
    [InlineData("null")]
    public void E015_MalformedAdapterConfigJsonIsATypedError(string json)
    {
        var error = Assert.Throws<InvalidAdapterConfigException>(() => LoraConfig.FromJson(json, "bad.json"));
        Assert.Equal("bad.json", error.ConfigSource);
    }

    [Theory]
    [InlineData(new[] { "q_proj" }, null, null, null, "0.self_attn.q_proj 1.self_attn.q_proj")]
    [InlineData(new[] { "model.layers.1.mlp.up_proj" }, null, null, null, "1.mlp.up_proj")]
    [InlineData(new[] { "proj" }, null, null, null, "")]
    [InlineData(null, @".*layers\.0\.mlp\.(up|down)_proj", null, null, "0.mlp.up_proj 0.mlp.down_proj")]
    [InlineData(new[] { "o_proj", "down_proj" }, null, new[] { 1 }, null, "1.self_attn.o_proj 1.mlp.down_proj")]
    [InlineData(new[] { "all-linear" }, null, null, @".*\.mlp\..*", "0.self_attn.q_proj 0.self_attn.k_proj 0.self_attn.v_proj 0.self_attn.o_proj 1.self_attn.q_proj 1.self_attn.k_proj 1.self_attn.v_proj 1.self_attn.o_proj")]
    public void TargetModulesSelectLayersAsPeftDoes(string[]? names, string? regex, int[]? layers, string? excludeRegex, string expected)
    {
        var model = TinyLlama();
        var config = new LoraConfig { TargetModules = names is null ? null : [.. names], TargetModulesRegex = regex, LayersToTransform = layers is null ? null : [.. layers], ExcludeModulesRegex = excludeRegex };
        var selected = model.named_modules()
            .Where(m => m.module is LoraLayer && LoraTargetMatcher.IsTarget(config, m.name, m.module is AdaptableLinear, model.OutputHeadModule))
            .Select(m => m.name.Replace("model.layers.", "", StringComparison.Ordinal));
        Assert.Equal(expected, string.Join(" ", selected));
    }

    [Fact]
    public void AllLinearLeavesOutTheOutputHeadAndIsStoredAsNames()
    {
        var lora = new LoraModel(TinyLlama());
        var injection = lora.AddAdapter("a", new LoraConfig { TargetModules = [LoraConfig.AllLinear] });
        Assert.Equal(14, injection.TargetedModules.Count);
        Assert.DoesNotContain("lm_head", injection.TargetedModules);
        Assert.Equal(["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"], lora.Adapters["a"].TargetModules);
    }

    [Fact]
    public void RankAndAlphaPatternsSetPerModuleValues()
    {
        var config = new LoraConfig
        {
            Rank = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj"],
            RankPattern = new() { [@"layers\.1\.self_attn\.q_proj"] = 2 },
            AlphaPattern = new() { ["v_proj"] = 1 },
        };
        var lora = new LoraModel(TinyLlama());
        lora.AddAdapter("a", config);
        var layers = lora.LoraLayers().ToDictionary(l => l.Path, l => l.Layer);
        Assert.Equal(new LoraAdapterSettings(2, 8), layers["model.layers.1.self_attn.q_proj"].Adapters["a"]);
        Assert.Equal(new LoraAdapterSettings(4, 8), layers["model.layers.0.self_attn.q_proj"].Adapters["a"]);
        Assert.Equal(new LoraAdapterSettings(4, 1), layers["model.layers.1.self_attn.v_proj"].Adapters["a"]);
        Assert.Equal(2, ((AdaptableLinear)layers["model.layers.1.self_attn.q_proj"]).LoraA("a").shape[0]);
    }

    [Fact]
    public void E017_AdapterTargetsThatMatchNothingInTheBaseAreTypedErrors()
    {
        var lora = new LoraModel(TinyLlama());
        var none = Assert.Throws<InvalidAdapterConfigException>(() => lora.AddAdapter("a", new LoraConfig { TargetModules = ["c_attn"] }));
        Assert.Contains("matches no layer", none.Message);
        Assert.Contains("model.layers.0.self_attn.q_proj", none.Message);
        var notLayer = Assert.Throws<InvalidAdapterConfigException>(() => lora.AddAdapter("a", new LoraConfig { TargetModules = ["mlp"] }));
        Assert.Contains("model.layers.0.mlp", notLayer.Message);
        var missingSave = Assert.Throws<InvalidAdapterConfigException>(() => lora.AddAdapter("a", new LoraConfig { ModulesToSave = ["pooler"] }));
        Assert.Contains("pooler", missingSave.Message);
        Assert.Empty(lora.Adapters);
    }
}
