using System.IO.Compression;
using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Checkpoints.Onnx;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Tests.Checkpoints;
using Microsoft.ML.Lora.Tests.Checkpoints.Onnx;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.MLNet;

/// <summary>
/// LoraFineTuneOptions.ChainCycles (Chain of LoRA): each cycle's ΔW = (α/r)·B·A is merged into the base, the next cycle
/// starts from B = 0 with a fresh optimizer and a restarted schedule, the steps of one run are split across the cycles, and
/// the zip stores every cycle's factors so a loaded model scores as the trained one did.
/// </summary>
public sealed class ChainOfLoraTests : IDisposable
{
    private const double LearningRate = 2e-2;
    private readonly TempFolder _temp = new();
    private readonly string _bert;

    public ChainOfLoraTests()
    {
        var (onnx, vocab) = OnnxGraphTracingTests.Write(_temp, new TinyBertOnnx().Build(seed: 5));
        _bert = OnnxBertImporter.Convert(onnx, vocab, _temp.File("bert"), null).Folder;
    }

    public void Dispose() => _temp.Dispose();

    private LoraFineTuneOptions Options(int cycles) => new()
    {
        BaseModelPath = _bert, TargetModules = "query,value", Rank = 4, Alpha = 8, NumberOfEpochs = 3, BatchSize = 8,
        LearningRate = LearningRate, Seed = 3, ShowProgress = false, ChainCycles = cycles,
    };

    [Fact]
    public void OneCycleIsPlainLoraExactly()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, seed: 1));
        var rows = SentimentRows.Binary(10, seed: 4);
        var plainOptions = Options(1);
        Assert.Equal(1, new LoraFineTuneOptions().ChainCycles);
        // BERT's hidden dropout draws from torch's global generator: both fits start it from the same state.
        random.manual_seed(11);
        using var plain = ml.BinaryClassification.Trainers.LoraFineTune(new LoraFineTuneOptions
        {
            BaseModelPath = _bert, TargetModules = "query,value", Rank = 4, Alpha = 8, NumberOfEpochs = 3, BatchSize = 8,
            LearningRate = LearningRate, Seed = 3, ShowProgress = false,
        }).Fit(train);
        random.manual_seed(11);
        using var one = ml.BinaryClassification.Trainers.LoraFineTune(plainOptions).Fit(train);
        Assert.Equal(Scores(ml, plain, rows), Scores(ml, one, rows));
        Assert.Equal(plain.TrainingResult!.Steps, one.TrainingResult!.Steps);
        Assert.Equal(plain.TrainingResult.FinalTrainLoss, one.TrainingResult.FinalTrainLoss);
        Assert.Empty(one.ChainCycleResults);
        var zip = _temp.File("one.zip");
        ml.Model.Save(one, train.Schema, zip);
        using var archive = ZipFile.OpenRead(zip);
        Assert.DoesNotContain(archive.Entries, e => e.Name.StartsWith("Chain.", StringComparison.Ordinal));
    }

    [Fact]
    public void EachCycleMergesItsDeltaAndTheNextStartsFreshWithARestartedSchedule()
    {
        using var baseModel = LoraBaseModel.Load(_bert);
        var options = Options(3);
        var manifest = new LoraModelManifest
        {
            Task = LoraTask.BinaryClassification,
            Lora = AdapterSetup.ConfigFor(options.ToLoraConfig(baseModel.Model.Config.ModelType), LoraTask.BinaryClassification, baseModel.Model),
            MaxSequenceLength = 32,
            Seed = 3,
            ChainCycles = 3,
        };
        AdapterSetup.Rebuild(baseModel, manifest, seed: 3);
        var encoder = AdapterSetup.Encoder(baseModel.Tokenizer, manifest);
        var train = SentimentRows.Binary(48, seed: 1).Select(r => encoder.Encode(r.Text, null, r.Label ? 1 : 0)).ToList();
        var layer = (AdaptableLinear)baseModel.Lora.LoraLayers().First(l => l.Path.EndsWith("query", StringComparison.Ordinal)).Layer;
        double scale = layer.Adapters["default"].Scale;
        Assert.Equal(8.0 / 4, scale);
        var original = layer.weight.detach().clone();

        var firstStepB = new List<Tensor>();
        var weightInCycle = new List<Tensor>();
        var lastFactors = new Dictionary<int, (Tensor A, Tensor B)>();
        FineTuningLoop LoopFor(FineTuningSettings settings, int cycle, long before, long total) =>
            new(baseModel.Model, TaskObjective.For(LoraTask.BinaryClassification), settings, baseModel.Tokenizer.PadId, CPU)
            {
                Progress = p =>
                {
                    if (p.ValidationLoss is not null)
                    {
                        return;
                    }
                    if (p.Step == 1)
                    {
                        firstStepB.Add(layer.LoraB("default").detach().clone());
                        weightInCycle.Add(layer.weight.detach().clone());
                    }
                    lastFactors[cycle] = (layer.LoraA("default").detach().clone(), layer.LoraB("default").detach().clone());
                },
            };
        var run = ChainOfLora.Train(baseModel, manifest, options, 3, CPU, train, null, LoopFor, _ => { });

        // 48 rows, batch 8, 3 epochs: 18 steps, 6 per cycle; two cycles were folded into the base.
        Assert.Equal([6L, 6L, 6L], run.Cycles.Select(c => c.Steps));
        Assert.Equal(18, run.Result.Steps);
        Assert.Equal(2, run.MergedCycles.Count);
        Assert.Equal(3, firstStepB.Count);
        foreach (var b in firstStepB)
        {
            // From B = 0, Adam's first step with fresh moments moves each element by at most the full learning rate (no decay yet):
            // a carried-over optimizer state or a schedule that did not restart would not reach it.
            double max = b.abs().max().item<float>();
            Assert.InRange(max, LearningRate * 0.99, LearningRate * 1.0001);
        }
        // The base weight is constant within a cycle and grows by exactly (α/r)·B·A of the cycle before.
        var expected = original;
        for (int c = 0; c < 3; c++)
        {
            Assert.True((weightInCycle[c] - expected).abs().max().item<float>() < 1e-6, $"cycle {c + 1} did not start from the base with the earlier cycles merged");
            var (a, b) = lastFactors[c];
            expected = expected + scale * b.matmul(a);
        }
        Assert.True((layer.weight - weightInCycle[2]).abs().max().item<float>() == 0, "the last cycle's adapter must stay live, not merged");
        // The saved bytes of cycle 1 are its trained factors.
        using var cycle1 = SafetensorsFile.Load(run.MergedCycles[0], "cycle 1");
        var savedB = zeros_like(lastFactors[0].B);
        cycle1.ReadInto(layer.ModulePath + ".lora_B.default.weight", savedB);
        Assert.True(savedB.eq(lastFactors[0].B).all().item<bool>(), "cycle 1's saved B is not its trained B");
    }

    [Fact]
    public void FoldingMergesTheScaledProductAndLeavesAFreshZeroB()
    {
        using var baseModel = LoraBaseModel.Load(_bert);
        var options = Options(2);
        var manifest = new LoraModelManifest
        {
            Task = LoraTask.BinaryClassification,
            Lora = AdapterSetup.ConfigFor(options.ToLoraConfig(baseModel.Model.Config.ModelType), LoraTask.BinaryClassification, baseModel.Model),
            Seed = 3,
        };
        AdapterSetup.Rebuild(baseModel, manifest, seed: 3);
        var layers = baseModel.Lora.LoraLayers().Select(l => l.Layer).OfType<AdaptableLinear>().Where(l => l.HasAdapter("default")).ToList();
        var before = layers.Select(l => l.weight.detach().clone()).ToList();
        var products = new List<Tensor>();
        using (no_grad())
        {
            foreach (var l in layers)
            {
                l.LoraB("default").normal_(0, 0.1);
                products.Add(l.Adapters["default"].Scale * l.LoraB("default").matmul(l.LoraA("default")));
            }
        }
        var head = baseModel.Model.state_dict().Single(kv => kv.Key.EndsWith("modules_to_save.default.weight", StringComparison.Ordinal)).Value.detach().clone();
        ChainOfLora.FoldCycle(baseModel, manifest, ChainOfLora.CycleSeed(3, 1));
        for (int i = 0; i < layers.Count; i++)
        {
            Assert.True((layers[i].weight - before[i] - products[i]).abs().max().item<float>() < 1e-6, $"{layers[i].ModulePath}: ΔW is not (α/r)·B·A");
            Assert.Equal(0, layers[i].LoraB("default").abs().max().item<float>());
            Assert.True(layers[i].LoraA("default").abs().max().item<float>() > 0, "A must be re-initialised (kaiming), not zero");
        }
        // The trained head copy became the base head, and the next cycle's copy starts from it.
        var newCopy = baseModel.Model.state_dict().Single(kv => kv.Key.EndsWith("modules_to_save.default.weight", StringComparison.Ordinal)).Value;
        Assert.True((newCopy - head).abs().max().item<float>() == 0);
        Assert.Equal(["default"], baseModel.Lora.ActiveAdapters);
        Assert.False(baseModel.Lora.IsMerged);
    }

    [Fact]
    public void ThreeCyclesSaveEveryCycleAndLoadToTheSameScores()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(48, seed: 1));
        var rows = SentimentRows.Binary(12, seed: 4);
        var zip = _temp.File("chain.zip");
        float[] before;
        using (var chained = ml.BinaryClassification.Trainers.LoraFineTune(Options(3)).Fit(train))
        {
            Assert.Equal(3, chained.ChainCycleResults.Count);
            Assert.Equal(18, chained.TrainingResult!.Steps);
            ml.Model.Save(chained, train.Schema, zip);
            before = Scores(ml, chained, rows);
        }
        using (var archive = ZipFile.OpenRead(zip))
        {
            var names = archive.Entries.Select(e => e.Name).ToList();
            Assert.Contains("Chain.1.safetensors", names);
            Assert.Contains("Chain.2.safetensors", names);
            Assert.DoesNotContain("Chain.3.safetensors", names);
            Assert.DoesNotContain("Base.model.safetensors", names);
            // Small factors, not dense weights: each cycle's entry is about the adapter's size.
            long adapter = archive.Entries.Single(e => e.Name == "Adapter.safetensors").Length;
            Assert.All(archive.Entries.Where(e => e.Name.StartsWith("Chain.", StringComparison.Ordinal)), e => Assert.Equal(adapter, e.Length));
        }
        var ml2 = new MLContext(seed: 1);
        var loaded = (LoraFineTuneTransformer)ml2.Model.LoadWithLora(zip, out _);
        using (loaded)
        {
            Assert.Equal(3, loaded.ChainCycles);
            var after = Scores(ml2, loaded, rows);
            for (int i = 0; i < rows.Count; i++)
            {
                Assert.InRange(Math.Abs(before[i] - after[i]), 0, 1e-6);
            }
            // Saving the loaded model again keeps every cycle.
            var again = _temp.File("again.zip");
            ml2.Model.Save(loaded, train.Schema, again);
            using var reloaded = (LoraFineTuneTransformer)new MLContext().Model.LoadWithLora(again, out _);
            Assert.Equal(after, Scores(ml2, reloaded, rows));
        }
    }

    [Fact]
    public void AnEmbeddedBaseHoldsTheMergedCyclesAndLoadsToTheSameScores()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(32, seed: 1));
        var rows = SentimentRows.Binary(8, seed: 4);
        var options = Options(2);
        options.EmbedBaseModel = true;
        var zip = _temp.File("embedded.zip");
        float[] before;
        using (var chained = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(train))
        {
            ml.Model.Save(chained, train.Schema, zip);
            before = Scores(ml, chained, rows);
        }
        using var loaded = (LoraFineTuneTransformer)new MLContext().Model.LoadWithLora(zip, out _);
        var after = Scores(ml, loaded, rows);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.InRange(Math.Abs(before[i] - after[i]), 0, 1e-6);
        }
    }

    [Fact]
    public void AChainOnASharedBaseLeavesItUntouched()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(16, seed: 1));
        using var shared = LoraBaseModel.Load(_bert);
        var weightsBefore = shared.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var options = Options(2);
        options.BaseModelPath = null;
        options.BaseModel = shared;
        using (var model = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(train))
        {
            Assert.NotSame(shared, model.Model);
        }
        foreach (var (name, tensor) in shared.Model.state_dict().Where(kv => weightsBefore.ContainsKey(kv.Key)))
        {
            Assert.True(tensor.eq(weightsBefore[name]).all().item<bool>(), $"the shared base's {name} changed");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void CyclesBelowOneAreATypedErrorNamingTheValue(int cycles)
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(8, seed: 1));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.LoraFineTune(Options(cycles)).Fit(train));
        Assert.Equal("ChainCycles", error.ParamName);
        Assert.Contains($"got {cycles}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MoreCyclesThanStepsIsATypedErrorNamingBoth()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(16, seed: 1));
        var options = Options(7);
        options.NumberOfEpochs = 2;   // 16 rows, batch 8: 4 steps
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(train));
        Assert.Equal("ChainCycles", error.ParamName);
        Assert.Contains("ChainCycles 7", error.Message, StringComparison.Ordinal);
        Assert.Contains("4 step(s)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StepsPlannedForTheCyclesAreThoseOfOneRun()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(44, seed: 1));
        var options = Options(1);
        options.NumberOfEpochs = 2;
        options.GradientAccumulationSteps = 2;
        using var plain = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(train);
        Assert.Equal(plain.TrainingResult!.Steps, ChainOfLora.PlannedSteps(44, options.ToFineTuningSettings(3)));
        Assert.Equal([3L, 3L, 2L], ChainOfLora.StepsPerCycle(8, 3));
    }

    [Fact]
    public void OptionsAChainCannotUseAreRefusedBeforeTraining()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(SentimentRows.Binary(8, seed: 1));
        foreach (var (change, word) in new (Action<LoraFineTuneOptions>, string)[]
        {
            (o => o.Mode = LoraFineTuneMode.Full, "Mode Full"),
            (o => o.Precision = LoraPrecision.BFloat16, "BFloat16"),
            (o => o.Initialization = LoraInitialization.Pissa, "Pissa"),
            (o => o.CheckpointDirectory = _temp.File("checkpoints"), "CheckpointDirectory"),
            (o => o.Quantization = Microsoft.ML.Lora.Adapters.Storage.FrozenWeightQuantization.Nf4, "Quantization Nf4"),
        })
        {
            var options = Options(3);
            change(options);
            var error = Assert.Throws<ArgumentException>(() => ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(train));
            Assert.Contains("ChainCycles 3", error.Message, StringComparison.Ordinal);
            Assert.Contains(word, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ABaseStoredInBFloat16IsRefusedBeforeTheFirstCycle()
    {
        using var baseModel = LoraBaseModel.Load(_bert);
        var options = Options(2);
        var manifest = new LoraModelManifest
        {
            Task = LoraTask.BinaryClassification,
            Lora = AdapterSetup.ConfigFor(options.ToLoraConfig(baseModel.Model.Config.ModelType), LoraTask.BinaryClassification, baseModel.Model),
            MaxSequenceLength = 32,
            ChainCycles = 2,
        };
        AdapterSetup.Rebuild(baseModel, manifest, seed: 3);
        // What a precision chosen at run time would do: the frozen weights in bf16.
        MixedPrecision.CastFrozenWeights(baseModel.Model, ScalarType.BFloat16);
        var encoder = AdapterSetup.Encoder(baseModel.Tokenizer, manifest);
        var train = SentimentRows.Binary(16, seed: 1).Select(r => encoder.Encode(r.Text, null, r.Label ? 1 : 0)).ToList();
        bool trained = false;
        var error = Assert.Throws<ArgumentException>(() => ChainOfLora.Train(baseModel, manifest, options, 3, CPU, train, null,
            (settings, _, _, _) => { trained = true; return new FineTuningLoop(baseModel.Model, TaskObjective.For(LoraTask.BinaryClassification), settings, 0, CPU); }, _ => { }));
        Assert.Contains("BFloat16", error.Message, StringComparison.Ordinal);
        Assert.Contains("query", error.Message, StringComparison.Ordinal);
        Assert.False(trained);
    }

    [Fact]
    public void AManifestWithoutCyclesIsPlainLora()
    {
        var json = new LoraModelManifest { Task = LoraTask.BinaryClassification }.ToJson();
        var old = string.Join('\n', json.Split('\n').Where(l => !l.Contains("\"ChainCycles\"", StringComparison.Ordinal)));
        Assert.DoesNotContain("ChainCycles", old, StringComparison.Ordinal);
        Assert.Equal(1, LoraModelManifest.FromJson(old, "old zip").ChainCycles);
    }

    private static float[] Scores(MLContext ml, ITransformer model, IEnumerable<SentimentRows.BinaryRow> rows) =>
        [.. ml.Data.CreateEnumerable<BinaryScore>(model.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).Select(r => r.Score)];

    private sealed class BinaryScore
    {
        public float Score { get; set; }
    }
}
