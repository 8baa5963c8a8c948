using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Tests.MLNet;
using MlLora.Cli.Commands;

namespace Microsoft.ML.Lora.Tests.Cli;

/// <summary>
/// Without --targets, LoRA goes where PEFT puts it by default for the architecture: GPT-2 c_attn, BERT query/value,
/// DistilBERT q_lin/v_lin, the Llama family q_proj/v_proj; in the CLI, in the ML.NET trainer and in sweeps.
/// </summary>
public sealed class CliDefaultTargetsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string[] Expected(string family) => family switch
    {
        "gpt2" => ["c_attn"],
        "bert" => ["query", "value"],
        "distilbert" => ["q_lin", "v_lin"],
        _ => ["q_proj", "v_proj"],
    };

    [Theory]
    [MemberData(nameof(TinyModelFolders.Families), MemberType = typeof(TinyModelFolders))]
    public void TrainWithoutTargetsAdaptsTheArchitecturesDefaults(string family)
    {
        var zip = CliData.TrainSpamZip(_dir.Path, $"{family}.zip", TinyModelFolders.Create(family, _dir.Path));
        using var saved = SavedModel.Load(zip);
        var targets = saved.Lora.Model.Lora.Adapters[saved.Lora.AdapterName!].TargetModules!;
        Assert.Equal(Expected(family), targets.Order(StringComparer.Ordinal));
        Assert.Contains(saved.Lora.Model.Lora.LoraLayers(), l => Expected(family).Any(t => l.Path.EndsWith("." + t, StringComparison.Ordinal)));
    }

    [Fact]
    public void TrainerOptionsWithoutTargetsUseTheArchitecturesDefaults()
    {
        var ml = new MLContext(seed: 1);
        var rows = RealDataSets.SmsSpam().Take(24).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var options = new LoraFineTuneOptions
        {
            BaseModelPath = SharedData.PathOf("models/tiny-random-gpt2"), NumberOfEpochs = 1, BatchSize = 8, MaxSequenceLength = 32,
        };
        Assert.Null(options.TargetModules);
        using var model = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(data);
        Assert.Equal(["c_attn"], model.Model.Lora.Adapters[model.AdapterName!].TargetModules!);
    }

    [Fact]
    public void SweepWithoutTargetSetsUsesTheArchitecturesDefaults()
    {
        var train = CliData.SmsSubset(_dir.Path, "train.tsv", 0, 32);
        var valid = CliData.SmsSubset(_dir.Path, "valid.tsv", 32, 16);
        var folder = Path.Combine(_dir.Path, "sweep");
        var (code, output, error) = CliRunner.Run("sweep", "--task", "binary", "--model", SharedData.PathOf("models/tiny-random-gpt2"),
            "--data", train, "--valid", valid, "--text-column", "SMS", "--positive-label", "spam", "--ranks", "1,2", "--epochs", "1",
            "--batch-size", "8", "--max-length", "32", "--out", folder);
        Assert.True(code == 0, error);
        Assert.Contains("targets=c_attn", output);
        Assert.True(File.Exists(Path.Combine(folder, "best-model.zip")));
    }
}
