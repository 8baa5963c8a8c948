using Microsoft.ML.Data;
using Microsoft.ML.Lora.Training;

namespace Microsoft.ML.Lora.MLNet;

/// <summary>The rows of an IDataView a fine-tuning run reads, with their labels.</summary>
internal sealed record TrainingRows(List<string> Texts, List<string>? Texts2, List<string>? Responses, List<float> Labels, int SkippedMissingLabels);

/// <summary>
/// Checks the training schema against the task (typed errors naming the column) and reads the rows.
/// Labels: binary → Boolean, multiclass → key (value k becomes class k−1; missing keys are skipped, as
/// ML.NET trainers do), regression → Single.
/// </summary>
internal static class TrainingDataReader
{
    public static void CheckSchema(DataViewSchema schema, LoraFineTuneOptions options)
    {
        foreach (var name in TextColumns(options))
        {
            var column = schema.GetColumnOrNull(name) ?? throw LoraSchemaException.Missing(name, "text", schema);
            if (column.Type is not TextDataViewType)
            {
                throw LoraSchemaException.WrongType(name, "text", column.Type);
            }
        }
        if (options.Task == LoraTask.CausalLanguageModel)
        {
            return;
        }
        var label = schema.GetColumnOrNull(options.LabelColumnName) ?? throw LoraSchemaException.Missing(options.LabelColumnName, "label", schema);
        switch (options.Task)
        {
            case LoraTask.BinaryClassification when label.Type is not BooleanDataViewType:
                throw LoraSchemaException.WrongType(label.Name, "Boolean for binary classification", label.Type);
            case LoraTask.MulticlassClassification when label.Type is not KeyDataViewType:
                throw LoraSchemaException.WrongType(label.Name, "a key type for multiclass classification", label.Type,
                    "Convert it with mlContext.Transforms.Conversion.MapValueToKey(\"" + label.Name + "\").");
            case LoraTask.MulticlassClassification when label.Type.GetKeyCount() < 2:
                throw LoraSchemaException.WrongType(label.Name, "a key type with at least 2 values", label.Type);
            case LoraTask.Regression when label.Type != NumberDataViewType.Single:
                throw LoraSchemaException.WrongType(label.Name, "Single for regression", label.Type,
                    "Convert it with mlContext.Transforms.Conversion.ConvertType(\"" + label.Name + "\", outputKind: DataKind.Single).");
        }
    }

    public static IEnumerable<string> TextColumns(LoraFineTuneOptions options)
    {
        if (options.Task == LoraTask.CausalLanguageModel)
        {
            if (options.MessagesColumnName is { } messages)
            {
                return options.PromptColumnName is null ? [messages] : throw new ArgumentException("Set MessagesColumnName or PromptColumnName/ResponseColumnName, not both.", nameof(options));
            }
            if (options.PromptColumnName is { } prompt)
            {
                return [prompt, options.ResponseColumnName ?? throw new ArgumentException("ResponseColumnName is required with PromptColumnName.", nameof(options))];
            }
            return [options.TextColumnName];
        }
        if (options.MessagesColumnName is not null)
        {
            throw new ArgumentException($"MessagesColumnName is for causal-LM chat fine-tuning; the task is {options.Task}.", nameof(options));
        }
        return options.Text2ColumnName is { } t2 ? [options.TextColumnName, t2] : [options.TextColumnName];
    }

    /// <summary>Key values of a key label column as strings, or null when it has none.</summary>
    public static string[]? KeyValues(DataViewSchema.Column label)
    {
        var keyValues = label.Annotations.Schema.GetColumnOrNull(AnnotationUtils.Kinds.KeyValues);
        if (keyValues is null || keyValues.Value.Type is not VectorDataViewType { ItemType: TextDataViewType })
        {
            return null;
        }
        VBuffer<ReadOnlyMemory<char>> values = default;
        label.Annotations.GetValue(AnnotationUtils.Kinds.KeyValues, ref values);
        return values.DenseValues().Select(v => v.ToString()).ToArray();
    }

    public static TrainingRows Read(IDataView data, LoraFineTuneOptions options, string what)
    {
        CheckSchema(data.Schema, options);
        var columns = TextColumns(options).ToArray();
        var texts = new List<string>();
        var second = columns.Length > 1 ? new List<string>() : null;
        var labels = new List<float>();
        int skipped = 0;
        bool hasLabel = options.Task != LoraTask.CausalLanguageModel;
        var active = columns.Select(c => data.Schema[c]).ToList();
        if (hasLabel)
        {
            active.Add(data.Schema[options.LabelColumnName]);
        }
        using var cursor = data.GetRowCursor(active);
        var getText = cursor.GetGetter<ReadOnlyMemory<char>>(data.Schema[columns[0]]);
        var getSecond = second is null ? null : cursor.GetGetter<ReadOnlyMemory<char>>(data.Schema[columns[1]]);
        var getLabel = hasLabel ? LabelGetter(cursor, data.Schema[options.LabelColumnName], options.Task) : null;
        ReadOnlyMemory<char> buffer = default;
        while (cursor.MoveNext())
        {
            float label = 0;
            if (getLabel is not null && !getLabel(out label))
            {
                skipped++;
                continue;
            }
            getText(ref buffer);
            texts.Add(buffer.ToString());
            if (getSecond is not null)
            {
                getSecond(ref buffer);
                second!.Add(buffer.ToString());
            }
            labels.Add(label);
        }
        if (texts.Count == 0)
        {
            throw new EmptyTrainingDataException(skipped > 0
                ? $"The {what} data has no row with a label: all {skipped} rows have a missing '{options.LabelColumnName}'."
                : $"The {what} data is empty: fine-tuning needs at least one row.");
        }
        if (options.Task == LoraTask.BinaryClassification && what == "training")
        {
            RequireBothClasses(labels, options.LabelColumnName);
        }
        bool instruction = options.Task == LoraTask.CausalLanguageModel && options.PromptColumnName is not null;
        return new TrainingRows(texts, instruction ? null : second, instruction ? second : null, labels, skipped);
    }

    /// <summary>A binary label that is the same in every row trains a constant model: refuse it.</summary>
    private static void RequireBothClasses(List<float> labels, string column)
    {
        bool positive = labels.Any(l => l > 0.5f), negative = labels.Any(l => l <= 0.5f);
        if (positive && negative)
        {
            return;
        }
        var value = positive ? "true" : "false";
        throw new LabelValuesException(column, [value],
            $"The training label '{column}' is {value} in all {labels.Count} rows (values seen: {value}): binary classification needs rows of both classes. " +
            "Check which value the Boolean label was mapped from (a positive class that matches no row gives all false).");
    }

    private delegate bool LabelReader(out float label);

    private static LabelReader LabelGetter(DataViewRowCursor cursor, DataViewSchema.Column column, LoraTask task)
    {
        switch (task)
        {
            case LoraTask.BinaryClassification:
            {
                var get = cursor.GetGetter<bool>(column);
                bool value = false;
                return (out float label) => { get(ref value); label = value ? 1 : 0; return true; };
            }
            case LoraTask.MulticlassClassification:
            {
                var get = cursor.GetGetter<uint>(column);
                uint value = 0;
                return (out float label) => { get(ref value); label = value - 1f; return value != 0; };
            }
            default:
            {
                var get = cursor.GetGetter<float>(column);
                float value = 0;
                return (out float label) => { get(ref value); label = value; return !float.IsNaN(value); };
            }
        }
    }
}
