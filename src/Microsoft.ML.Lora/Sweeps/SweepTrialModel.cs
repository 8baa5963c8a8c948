namespace Microsoft.ML.Lora.Sweeps;

/// <summary>A kept trial: its latest results row and the model it trained.</summary>
public sealed class SweepTrialModel
{
    internal SweepTrialModel(SweepTrialRecord record, object model)
    {
        Record = record;
        Model = model;
    }

    /// <summary>The trial's latest evaluation.</summary>
    public SweepTrialRecord Record { get; }

    /// <summary>The trained model as the runner returned it (an <c>ITransformer</c> for the ML.NET runner).</summary>
    public object Model { get; }
}
