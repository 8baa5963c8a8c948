using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Bert;
using Microsoft.ML.Lora.Models.Gpt2;
using Microsoft.ML.Lora.Tests.Checkpoints;
using static Microsoft.ML.Lora.Tests.Adapters.AdapterTestModels;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Adapters;

/// <summary>
/// The two real PEFT adapters in shared/data imported onto randomly initialised bases of their models' shapes:
/// every tensor lands in a parameter, orientation is right, heads are attached, and export reproduces the files.
/// </summary>
public class RealPeftAdapterTests
{
    [Fact]
    public void Gpt2EmotionAdapterImportsWithConv1DOrientationAndExportsUnchanged()
    {
        using var scope = NewDisposeScope();
        var folder = SharedData.PathOf("adapters/peft-gpt2-emotion");
        using var model = new Gpt2LMHeadModel(new Gpt2Config());   // gpt2: n_embd 768, 12 layers, 12 heads, vocab 50257
        var report = PeftAdapterFormat.Import(model, folder, "emotion");

        Assert.Equal(25, report.TensorCount);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"transformer.h.{i}.attn.c_attn"), report.AdaptedModules);
        Assert.Equal(["score"], report.SavedModules);
        Assert.Equal(6, model.ClassificationLabels);
        Assert.Equal((8, 8.0), (report.Config.Rank, report.Config.Alpha));
        Assert.Equal(["c_attn"], report.Config.TargetModules);
        AssertEveryTensorIsInTheModel(report, Path.Combine(folder, PeftAdapterFormat.WeightsFileName));

        // Conv1D stores W as [in, out] = [768, 2304]; the LoRA factors keep nn.Linear's layout.
        var cAttn = model.transformer.h[3].attn.c_attn;
        Assert.True(cAttn.FanInFanOut);
        Assert.Equal([768L, 2304], cAttn.weight.shape);
        var a = cAttn.LoraA("emotion").to(ScalarType.Float64);
        var b = cAttn.LoraB("emotion").to(ScalarType.Float64);
        Assert.Equal([768L, 2304], cAttn.DeltaWeight("emotion").shape);
        Assert.True(MaxDiff(b.matmul(a).t(), cAttn.DeltaWeight("emotion")) < 1e-6, "scale 8/8 = 1, delta = (B·A)ᵀ");
        var x = randn(2, 768);
        using (no_grad())
        {
            var added = cAttn.forward(x) - cAttn.BaseForward(x);
            Assert.True(MaxDiff(x.to(ScalarType.Float64).matmul(a.t()).matmul(b.t()), added) < 1e-4);
        }
        AssertExportReproducesTheFolder(report, folder);
    }

    [Fact]
    public void DistilbertImdbAdapterImportsWithItsClassifierHeadAndExportsUnchanged()
    {
        using var scope = NewDisposeScope();
        var folder = SharedData.PathOf("adapters/peft-distilbert-imdb");
        var config = new BertConfig { ModelType = "distilbert", VocabSize = 30522, Dim = 768, NLayers = 6, NHeads = 12, HiddenDim = 3072 };
        using var model = (DistilBertForSequenceClassification)ModelRegistry.Create(config);
        var report = PeftAdapterFormat.Import(model, folder);

        Assert.Equal(28, report.TensorCount);
        Assert.Equal(12, report.AdaptedModules.Count);
        Assert.All(report.AdaptedModules, m => Assert.Matches(@"^distilbert\.transformer\.layer\.[0-5]\.attention\.(q|v)_lin$", m));
        Assert.Equal(["pre_classifier", "classifier"], report.SavedModules);   // PEFT's suffix match saves pre_classifier too
        Assert.Equal(2, model.ClassificationLabels);
        Assert.Equal((8, 16.0, 0.1), (report.Config.Rank, report.Config.Alpha, report.Config.Dropout));
        Assert.Equal(["v_lin", "q_lin"], report.Config.TargetModules);
        Assert.Contains("megatron_core", report.PreservedConfigFields);
        AssertEveryTensorIsInTheModel(report, Path.Combine(folder, PeftAdapterFormat.WeightsFileName));

        // The imported adapter is in inference mode (as saved): nothing trains until it is made trainable.
        Assert.Equal(0, report.Model.CountParameters().Trainable);
        var q = model.distilbert.transformer.layer[0].attention.q_lin;
        Assert.True(MaxDiff(2.0 * q.LoraB("default").matmul(q.LoraA("default")), q.DeltaWeight("default")) < 1e-6, "scale 16/8 = 2");
        AssertExportReproducesTheFolder(report, folder);
    }

    // Each file tensor equals, bit for bit, the parameter its PEFT name maps to.
    private static void AssertEveryTensorIsInTheModel(AdapterImportReport report, string file)
    {
        var live = PeftStateDict.Entries(report.Model, report.AdapterName, report.Config).ToDictionary(e => e.Key, e => e.Parameter);
        using var weights = SafetensorsFile.Open(file);
        Assert.Equal(weights.Entries.Select(e => e.Name).Order(), live.Keys.Order());
        foreach (var entry in weights.Entries)
        {
            using var expected = weights.ReadTensor(entry.Name);
            TensorAssert.BitExact(expected, live[entry.Name].detach(), entry.Name);
        }
    }

    private static void AssertExportReproducesTheFolder(AdapterImportReport report, string folder)
    {
        using var exported = new TempFolder();
        PeftAdapterFormat.Export(report.Model, exported.Path, report.AdapterName);
        PeftFormatTests.AssertSameTensors(Path.Combine(folder, PeftAdapterFormat.WeightsFileName), exported.File(PeftAdapterFormat.WeightsFileName));
        JsonAssert.Equivalent(File.ReadAllText(Path.Combine(folder, LoraConfig.FileName)), File.ReadAllText(exported.File(LoraConfig.FileName)));
    }
}
