using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>Builds attention masks and position ids shared by the architectures.</summary>
public static class AttentionMask
{
    /// <summary>True when the mask marks no padding (so plain causal attention is exact).</summary>
    public static bool HasPadding(Tensor? attentionMask) =>
        attentionMask is not null && attentionMask.min().item<long>() == 0;

    /// <summary>
    /// Additive mask [batch, 1, queries, keys] in <paramref name="dtype"/>: 0 where a query may attend,
    /// the dtype's lowest value where not (a finite value, so all-masked padding rows stay finite).
    /// <paramref name="causal"/> forbids keys after the query; <paramref name="pastLength"/> keys
    /// precede the queries (a KV cache).
    /// </summary>
    public static Tensor Additive(Tensor keyMask, long queries, bool causal, ScalarType dtype, long pastLength = 0)
    {
        using var scope = NewDisposeScope();
        long keys = keyMask.shape[1];
        var allowed = keyMask.to(ScalarType.Bool).view(keyMask.shape[0], 1, 1, keys);
        if (causal)
        {
            var q = arange(pastLength, pastLength + queries, device: keyMask.device).view(queries, 1);
            var k = arange(keys, device: keyMask.device).view(1, keys);
            allowed = allowed.logical_and(k.le(q).view(1, 1, queries, keys));
        }
        var lowest = dtype switch
        {
            ScalarType.BFloat16 => -3.3895313892515355e38,
            ScalarType.Float16 => -65504.0,
            ScalarType.Float64 => double.MinValue,
            _ => float.MinValue,
        };
        var mask = zeros([keyMask.shape[0], 1, queries, keys], dtype, keyMask.device).masked_fill(allowed.logical_not(), lowest);
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Position ids [batch, time] that count real tokens only (cumsum(mask) − 1, clamped at 0), so left
    /// padding does not shift positions. Without a mask: 0..time−1 (offset by <paramref name="pastLength"/>).
    /// </summary>
    public static Tensor PositionIds(Tensor? attentionMask, long batch, long time, Device device, long pastLength = 0)
    {
        if (attentionMask is null)
        {
            return arange(pastLength, pastLength + time, device: device).unsqueeze(0).expand(batch, time);
        }
        using var scope = NewDisposeScope();
        var positions = (attentionMask.to(ScalarType.Int64).cumsum(1) - 1).clamp_min(0);
        return positions[.., (int)(positions.shape[1] - time)..].MoveToOuterDisposeScope();
    }
}
