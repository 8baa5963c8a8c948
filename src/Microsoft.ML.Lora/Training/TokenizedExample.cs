namespace Microsoft.ML.Lora.Training;

/// <summary>
/// One training or scoring row after tokenization. For causal language modelling,
/// <see cref="LossStart"/> is the first position whose token is predicted with loss (the response start),
/// so prompt tokens carry no loss.
/// </summary>
public sealed record TokenizedExample(int[] InputIds, float Label = 0, int LossStart = 1, int[]? TokenTypeIds = null);
