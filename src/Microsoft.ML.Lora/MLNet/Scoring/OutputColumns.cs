using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet.Persistence;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet.Scoring;

/// <summary>
/// The columns a fine-tuned model adds, as ML.NET's evaluators expect them:
/// multiclass → Score (vector of class probabilities) + PredictedLabel (key, with the label's key values);
/// binary → Score (margin), Probability, PredictedLabel (Boolean); regression → Score;
/// causal LM → the generated-text column.
/// </summary>
internal static class OutputColumns
{
    public const string Score = "Score", Probability = "Probability", PredictedLabel = "PredictedLabel";

    /// <summary>Input columns plus the model's output columns (an output hides an input of the same name).</summary>
    public static DataViewSchema Build(DataViewSchema input, LoraModelManifest manifest)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        switch (manifest.Task)
        {
            case LoraTask.MulticlassClassification:
                builder.AddColumn(Score, new VectorDataViewType(NumberDataViewType.Single, manifest.Labels), ScoreAnnotations(manifest));
                builder.AddColumn(PredictedLabel, new KeyDataViewType(typeof(uint), manifest.Labels), KeyValueAnnotations(manifest));
                break;
            case LoraTask.BinaryClassification:
                builder.AddColumn(Score, NumberDataViewType.Single);
                builder.AddColumn(Probability, NumberDataViewType.Single);
                builder.AddColumn(PredictedLabel, BooleanDataViewType.Instance);
                break;
            case LoraTask.Regression:
                builder.AddColumn(Score, NumberDataViewType.Single);
                break;
            case LoraTask.CausalLanguageModel:
                builder.AddColumn(manifest.GeneratedTextColumn, TextDataViewType.Instance);
                break;
        }
        return builder.ToSchema();
    }

    /// <summary>Names of the columns the model computes.</summary>
    public static string[] Names(LoraModelManifest manifest) => manifest.Task switch
    {
        LoraTask.MulticlassClassification => [Score, PredictedLabel],
        LoraTask.BinaryClassification => [Score, Probability, PredictedLabel],
        LoraTask.Regression => [Score],
        _ => [manifest.GeneratedTextColumn],
    };

    private static DataViewSchema.Annotations? KeyValueAnnotations(LoraModelManifest manifest)
    {
        if (manifest.LabelKeyValues is not { } keys)
        {
            return null;
        }
        var builder = new DataViewSchema.Annotations.Builder();
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getter = (ref VBuffer<ReadOnlyMemory<char>> value) =>
            value = new VBuffer<ReadOnlyMemory<char>>(keys.Length, keys.Select(k => k.AsMemory()).ToArray());
        builder.AddKeyValues(keys.Length, TextDataViewType.Instance, getter);
        return builder.ToAnnotations();
    }

    private static DataViewSchema.Annotations? ScoreAnnotations(LoraModelManifest manifest)
    {
        if (manifest.LabelKeyValues is not { } keys)
        {
            return null;
        }
        var builder = new DataViewSchema.Annotations.Builder();
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getter = (ref VBuffer<ReadOnlyMemory<char>> value) =>
            value = new VBuffer<ReadOnlyMemory<char>>(keys.Length, keys.Select(k => k.AsMemory()).ToArray());
        builder.AddSlotNames(keys.Length, getter);
        return builder.ToAnnotations();
    }
}

/// <summary>One row's outputs.</summary>
internal readonly record struct RowOutput(float[]? Scores, float Score, float Probability, uint KeyLabel, bool BoolLabel, string? Text);

/// <summary>Turns raw head outputs into ML.NET output values.</summary>
internal static class OutputConversion
{
    public static RowOutput FromLogits(LoraTask task, float[] logits) => task switch
    {
        LoraTask.MulticlassClassification => Multiclass(logits),
        LoraTask.BinaryClassification => Binary(logits),
        LoraTask.Regression => new RowOutput(null, logits[0], 0, 0, false, null),
        _ => throw new InvalidOperationException($"Task {task} has no classification head."),
    };

    private static RowOutput Multiclass(float[] logits)
    {
        float max = logits.Max();
        var exp = logits.Select(l => MathF.Exp(l - max)).ToArray();
        float sum = exp.Sum();
        var probabilities = exp.Select(e => e / sum).ToArray();
        uint best = (uint)Array.IndexOf(logits, max);
        return new RowOutput(probabilities, 0, 0, best + 1, false, null);
    }

    // Two logits: the margin l1 − l0 is the score, and sigmoid(margin) equals softmax's P(class 1).
    private static RowOutput Binary(float[] logits)
    {
        float margin = logits[1] - logits[0];
        float probability = 1f / (1f + MathF.Exp(-margin));
        return new RowOutput(null, margin, probability, 0, margin > 0, null);
    }
}
