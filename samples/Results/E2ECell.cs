using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Lora.Evaluation;
using Microsoft.ML.Lora.MLNet;
using QuickStart;

namespace Results;

/// <summary>
/// A cell of the E2E table (stories260K): train on valid.txt less 10 % of its meaning representations (held out for the
/// validation loss), then on test.txt the loss and perplexity of the references and corpus BLEU-4 of greedy outputs (one
/// per meaning representation) against all of its references.
/// </summary>
public static class E2ECell
{
    public sealed class Row
    {
        public string Prompt { get; set; } = "";
        public string Response { get; set; } = "";
    }

    private sealed class Generated
    {
        public string GeneratedText { get; set; } = "";
    }

    public static RunRecord Run(CellSpec cell, HarnessSettings settings)
    {
        var shared = SharedDataLocator.Find();
        var (train, heldOut) = Split(DataToTextSet.Read(Path.Combine(shared, "datasets/e2e/valid.txt")), settings);
        var test = DataToTextSet.Read(Path.Combine(shared, "datasets/e2e/test.txt")).Take(settings.E2ETestMeaningRepresentations ?? int.MaxValue).ToList();
        var ml = new MLContext(seed: cell.Seed);
        var options = new LoraFineTuneOptions
        {
            BaseModelPath = ModelFolders.Get(cell.Model),
            PromptColumnName = nameof(Row.Prompt),
            ResponseColumnName = nameof(Row.Response),
            Mode = ClassificationCell.ModeOf(cell.Method),
            TargetModules = cell.Method == "lora" ? cell.Targets : "all-linear",
            Rank = cell.Method == "lora" ? cell.Rank : 8,
            Alpha = cell.Method == "lora" ? cell.Alpha : 16,
            // Chain of LoRA: the LoRA cell's adapter and total steps, split into cycles merged into the base one after another.
            ChainCycles = cell.Method == "chain" ? settings.ChainCycles : 1,
            NumberOfEpochs = settings.E2EEpochs,
            BatchSize = 16,
            LearningRate = HarnessSettings.LearningRate(cell.Method, cell.Model),
            MaxSequenceLength = 128,
            MaxNewTokens = settings.E2EMaxNewTokens,
            Seed = cell.Seed,
            ShowProgress = false,
        };
        if (cell.Method == "base")
        {
            // The base itself: a fresh LoRA adapter (B = 0) given one step of a learning rate whose update underflows to
            // exactly zero in float32, so every output is the base model's own.
            options.LearningRate = 1e-300;
            options.MaxSteps = 1;
        }
        var measurement = new CellMeasurement();
        measurement.Start();
        using var model = ml.Transforms.Text.LoraFineTuneCausalLanguageModel(options).Fit(ml.Data.LoadFromEnumerable(train));
        var trained = model.TrainingResult!;
        var record = measurement.Stop(new RunRecord
        {
            Cell = cell,
            TrainableParameters = cell.Method == "base" ? 0 : trained.TrainableParameters,
            TotalParameters = trained.TotalParameters,
            Steps = cell.Method == "base" ? 0 : trained.Steps,
            ChainCycles = model.ChainCycleResults.Count == 0 ? null
                : [.. model.ChainCycleResults.Select((c, i) => string.Create(CultureInfo.InvariantCulture, $"cycle {i + 1}: {c.Steps} steps, train loss {c.FinalTrainLoss:F4}"))],
        });
        var validation = model.EvaluateLanguageModel(ml.Data.LoadFromEnumerable(heldOut));
        var testMetrics = model.EvaluateLanguageModel(ml.Data.LoadFromEnumerable(Pairs(test)));
        var prompts = ml.Data.LoadFromEnumerable(test.Select(t => new Row { Prompt = t.MeaningRepresentation }));
        var outputs = ml.Data.CreateEnumerable<Generated>(model.Transform(prompts), reuseRowObject: false)
            .Select(g => FirstLine(g.GeneratedText)).ToList();
        return record with
        {
            ValidationLoss = validation.Loss,
            TestLoss = testMetrics.Loss,
            Perplexity = testMetrics.Perplexity,
            Bleu = CorpusBleu.Of(outputs, [.. test.Select(t => t.References)]),
            Samples = [.. test.Take(3).Select((t, i) => $"{t.MeaningRepresentation} → {outputs[i]}")],
        };
    }

    /// <summary>Training pairs and held-out pairs: 10 % of the meaning representations (seeded), so no MR is in both.</summary>
    private static (List<Row> Train, List<Row> HeldOut) Split(IReadOnlyList<DataToTextExample> examples, HarnessSettings settings)
    {
        var shuffled = examples.ToArray();
        new Random(0).Shuffle(shuffled);
        int heldOut = (int)Math.Ceiling(shuffled.Length * 0.1);
        var train = shuffled.Skip(heldOut).Take(settings.E2ETrainMeaningRepresentations ?? int.MaxValue);
        var held = shuffled.Take(settings.E2ETrainMeaningRepresentations is { } n ? Math.Max(2, n / 4) : heldOut);
        return (Pairs(train), Pairs(held));
    }

    private static List<Row> Pairs(IEnumerable<DataToTextExample> examples) =>
        [.. examples.SelectMany(e => e.References.Select(r => new Row { Prompt = e.MeaningRepresentation, Response = r }))];

    /// <summary>The output up to its first line break (the response ends there in training: one sentence per MR).</summary>
    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
