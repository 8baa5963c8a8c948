namespace Microsoft.ML.Lora.Training;

/// <summary>What a fine-tuned model predicts.</summary>
public enum LoraTask
{
    /// <summary>Two classes; the label is a Boolean column.</summary>
    BinaryClassification,
    /// <summary>Several classes; the label is a key column (use MapValueToKey).</summary>
    MulticlassClassification,
    /// <summary>A real number; the label is a Single column.</summary>
    Regression,
    /// <summary>Text generation: a prompt and a response column, or one text column for plain language modelling.</summary>
    CausalLanguageModel,
}
