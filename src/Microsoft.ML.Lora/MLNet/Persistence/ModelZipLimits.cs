namespace Microsoft.ML.Lora.MLNet;

/// <summary>Size limits a model zip must respect before it is opened (see <see cref="ModelZipGuard"/>).</summary>
public sealed record ModelZipLimits
{
    /// <summary>
    /// Largest uncompressed entry. Entries are read into one byte array each, so nothing larger could be loaded anyway.
    /// </summary>
    public long MaxEntryBytes { get; init; } = Array.MaxLength;

    /// <summary>Largest sum of the entries' uncompressed sizes (an embedded base plus its adapter and tokenizer).</summary>
    public long MaxTotalBytes { get; init; } = 16L << 30;

    /// <summary>
    /// Largest uncompressed / compressed ratio of an entry above <see cref="RatioCheckedAbove"/>. Weights compress
    /// about 1.1:1 and tokenizer JSON about 4:1; a ratio of hundreds means a bomb of repeated bytes.
    /// </summary>
    public double MaxCompressionRatio { get; init; } = 200;

    /// <summary>Entries up to this size may have any ratio (a small entry of zeros is harmless).</summary>
    public long RatioCheckedAbove { get; init; } = 1L << 20;

    /// <summary>The limits used when none are given.</summary>
    public static ModelZipLimits Default { get; } = new();
}
