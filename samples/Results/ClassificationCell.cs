using Microsoft.ML;
using Microsoft.ML.Lora.MLNet;
using QuickStart;

namespace Results;

/// <summary>A cell of the SST-2, Table 5 or SMS tables: fine-tune a binary classifier, report accuracy on the evaluation split.</summary>
public static class ClassificationCell
{
    public static RunRecord Run(CellSpec cell, HarnessSettings settings)
    {
        var ml = new MLContext(seed: cell.Seed);
        var (train, test) = Load(ml, cell.Dataset, settings);
        if (cell.Method == "majority")
        {
            bool positive = train.Count(r => r.Label) * 2 > train.Count;
            return new RunRecord { Cell = cell, Accuracy = test.Count(r => r.Label == positive) / (double)test.Count };
        }
        var options = new LoraFineTuneOptions
        {
            BaseModelPath = ModelFolders.Get(cell.Model),
            TextColumnName = nameof(Sentence.Text),
            Mode = ModeOf(cell.Method),
            NumberOfEpochs = settings.ClassifierEpochs,
            BatchSize = settings.BatchSize,
            LearningRate = HarnessSettings.LearningRate(cell.Method, cell.Model),
            MaxSequenceLength = settings.MaxLength,
            Seed = cell.Seed,
            ShowProgress = false,
        };
        if (cell.Method == "lora")
        {
            options.TargetModules = cell.Targets;
            options.Rank = cell.Rank;
            options.Alpha = cell.Alpha;
            options.UseRsLora = cell.RsLora;
        }
        var measurement = new CellMeasurement();
        measurement.Start();
        using var model = ml.BinaryClassification.Trainers.LoraFineTune(options).Fit(ml.Data.LoadFromEnumerable(train));
        var trained = model.TrainingResult!;
        var record = measurement.Stop(new RunRecord
        {
            Cell = cell, TrainableParameters = trained.TrainableParameters, TotalParameters = trained.TotalParameters, Steps = trained.Steps,
        });
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(ml.Data.LoadFromEnumerable(test)));
        return record with { Accuracy = metrics.Accuracy };
    }

    public static LoraFineTuneMode ModeOf(string method) => method switch
    {
        "head-only" => LoraFineTuneMode.HeadOnly,
        "full" => LoraFineTuneMode.Full,
        _ => LoraFineTuneMode.Lora,
    };

    /// <summary>SST-2 (train / dev) or SMS spam (the quick start's 80/20 split, training rows capped).</summary>
    private static (List<Sentence> Train, List<Sentence> Test) Load(MLContext ml, string dataset, HarnessSettings settings)
    {
        var shared = SharedDataLocator.Find();
        if (dataset == "sst2")
        {
            var train = Sst2.Load(Path.Combine(shared, "datasets/sst2/train.tsv")).Take(settings.Sst2TrainRows).ToList();
            var dev = Sst2.Load(Path.Combine(shared, "datasets/sst2/dev.tsv")).Take(settings.Sst2DevRows ?? int.MaxValue).ToList();
            return (train, dev);
        }
        var messages = SmsSpam.Load(Path.Combine(shared, "datasets/sms-spam/SMSSpamCollection")).Select(m => new Sentence { Text = m.Text, Label = m.Label });
        var split = ml.Data.TrainTestSplit(ml.Data.LoadFromEnumerable(messages), testFraction: 0.2, seed: 0);
        var shuffled = ml.Data.ShuffleRows(split.TrainSet, seed: 0);
        return (Rows(ml, ml.Data.TakeRows(shuffled, settings.SmsTrainRows)), Rows(ml, ml.Data.TakeRows(split.TestSet, settings.SmsTestRows ?? int.MaxValue)));
    }

    private static List<Sentence> Rows(MLContext ml, IDataView view) => [.. ml.Data.CreateEnumerable<Sentence>(view, reuseRowObject: false)];
}
