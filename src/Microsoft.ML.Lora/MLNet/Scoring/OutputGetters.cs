using Microsoft.ML.Data;
using Microsoft.ML.Lora.MLNet.Persistence;

namespace Microsoft.ML.Lora.MLNet.Scoring;

/// <summary>ML.NET value getters over a row's <see cref="RowOutput"/>.</summary>
internal static class OutputGetters
{
    public static ValueGetter<TValue> For<TValue>(DataViewSchema.Column column, LoraModelManifest manifest, Func<RowOutput> current)
    {
        Delegate getter = column.Name switch
        {
            OutputColumns.Score when column.Type is VectorDataViewType => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) =>
            {
                var scores = current().Scores!;
                var editor = VBufferEditor.Create(ref v, scores.Length);
                scores.CopyTo(editor.Values);
                v = editor.Commit();
            }),
            OutputColumns.Score => (ValueGetter<float>)((ref float v) => v = current().Score),
            OutputColumns.Probability => (ValueGetter<float>)((ref float v) => v = current().Probability),
            OutputColumns.PredictedLabel when column.Type is KeyDataViewType => (ValueGetter<uint>)((ref uint v) => v = current().KeyLabel),
            OutputColumns.PredictedLabel => (ValueGetter<bool>)((ref bool v) => v = current().BoolLabel),
            _ when column.Name == manifest.GeneratedTextColumn => (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> v) => v = current().Text.AsMemory()),
            _ => throw new InvalidOperationException($"Column '{column.Name}' is not produced by this model."),
        };
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Column '{column.Name}' has type {column.Type}; a getter of {typeof(TValue).Name} was requested.");
    }
}
