namespace Microsoft.ML.Lora.Sweeps;

/// <summary>What the fine-tuned model is evaluated on; decides which objective metrics make sense.</summary>
public enum SweepTask
{
    /// <summary>Two-class classification (ML.NET BinaryClassification evaluator).</summary>
    BinaryClassification,

    /// <summary>Many-class classification (ML.NET MulticlassClassification evaluator).</summary>
    MulticlassClassification,

    /// <summary>Predicting a number (ML.NET Regression evaluator).</summary>
    Regression,

    /// <summary>Next-token prediction (validation loss and perplexity).</summary>
    CausalLanguageModeling,
}
