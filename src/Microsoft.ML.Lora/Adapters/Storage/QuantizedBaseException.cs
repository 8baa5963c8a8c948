namespace Microsoft.ML.Lora.Adapters.Storage;

/// <summary>
/// An operation that needs a dense base weight met a quantised one, or a base was quantised twice: quantising an
/// already quantised base, merging an adapter into one in place, reading it as a Parameter, or an initialisation
/// that rewrites the base.
/// </summary>
public sealed class QuantizedBaseException(string message) : InvalidOperationException(message);
