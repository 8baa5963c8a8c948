namespace Microsoft.ML.Lora.Training;

/// <summary>
/// One training or scoring row after tokenization. For causal language modelling,
/// <see cref="LossStart"/> is the first position whose token is predicted with loss (the response start),
/// so prompt tokens carry no loss. <see cref="LossMask"/>, when set, instead names every token predicted with loss
/// (a conversation's assistant turns), and <see cref="LossStart"/> is ignored.
/// </summary>
public sealed record TokenizedExample(int[] InputIds, float Label = 0, int LossStart = 1, int[]? TokenTypeIds = null, bool[]? LossMask = null);
