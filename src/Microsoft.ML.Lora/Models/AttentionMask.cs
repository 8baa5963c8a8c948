using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>Builds attention masks and position ids shared by the architectures.</summary>
public static class AttentionMask
{
    /// <summary>True when the mask marks some padding (false: plain causal or unmasked attention is exact).</summary>
    public static bool HasPadding(Tensor? attentionMask)
    {
        if (attentionMask is null)
        {
            return false;
        }
        using var scope = NewDisposeScope();
        return attentionMask.min().to(ScalarType.Int64).item<long>() == 0;
    }

    /// <summary>True when every row of a [batch, time] mask is ones followed by zeros (padding only at the end).</summary>
    public static bool IsPaddedOnTheRight(Tensor attentionMask)
    {
        ArgumentNullException.ThrowIfNull(attentionMask);
        if (attentionMask.shape[1] < 2)
        {
            return true;
        }
        using var scope = NewDisposeScope();
        var real = attentionMask.ne(0);
        // Right padding: no real token after a padded one, i.e. real[t+1] implies real[t].
        return !real[.., 1..].logical_and(real[.., ..^1].logical_not()).any().item<bool>();
    }

    /// <summary>The most negative finite value of <paramref name="dtype"/>: an additive mask's "never attend".</summary>
    public static double Lowest(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float16 => -65504.0,
        ScalarType.Float64 => double.MinValue,
        _ => float.MinValue,
    };

    /// <summary>
    /// Additive mask [batch, 1, queries, keys] in <paramref name="dtype"/>: 0 where a query may attend,
    /// the dtype's lowest value where not (a finite value, so all-masked padding rows stay finite).
    /// <paramref name="causal"/> forbids keys after the query; <paramref name="pastLength"/> keys
    /// precede the queries (a KV cache). <paramref name="window"/>, when given, also forbids keys more than
    /// window−1 positions before the query (Mistral's sliding window: key &gt; query − window).
    /// </summary>
    public static Tensor Additive(Tensor keyMask, long queries, bool causal, ScalarType dtype, long pastLength = 0, long? window = null)
    {
        using var scope = NewDisposeScope();
        long keys = keyMask.shape[1];
        var allowed = keyMask.to(ScalarType.Bool).view(keyMask.shape[0], 1, 1, keys);
        if (causal)
        {
            var q = arange(pastLength, pastLength + queries, device: keyMask.device).view(queries, 1);
            var k = arange(keys, device: keyMask.device).view(1, keys);
            var visible = k.le(q);
            if (window is { } w)
            {
                visible = visible.logical_and(k.gt(q - w));
            }
            allowed = allowed.logical_and(visible.view(1, 1, queries, keys));
        }
        var mask = zeros([keyMask.shape[0], 1, queries, keys], dtype, keyMask.device).masked_fill(allowed.logical_not(), Lowest(dtype));
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The additive mask a causal decoder needs for <paramref name="time"/> new tokens after <paramref name="pastLength"/>
    /// cached ones, or null when plain causal attention gives every real token the same result: no sliding window in
    /// reach, either no cache or a single new token (which may see every cached key), and either no padding or, without
    /// a cache, padding only at the end of each row (right padding, as training and scoring batches are collated) —
    /// causal attention already keeps every real query away from the padding after it. The padded positions' own
    /// outputs then differ, but nothing reads them (losses and pooling mask them out), and a batch saves building,
    /// adding and differentiating a [batch, 1, time, time] mask in every layer.
    /// </summary>
    public static Tensor? ForDecoder(Tensor? attentionMask, long batch, long time, long pastLength, ScalarType dtype, Device device, long? window = null)
    {
        bool windowed = window is { } w && pastLength + time > w;
        bool causalSuffices = !HasPadding(attentionMask) || pastLength == 0 && IsPaddedOnTheRight(attentionMask!);
        if (causalSuffices && !(pastLength > 0 && time > 1) && !windowed)
        {
            return null;
        }
        using var scope = NewDisposeScope();
        var keyMask = attentionMask ?? ones(batch, pastLength + time, ScalarType.Int64, device);
        return Additive(keyMask, time, causal: true, dtype, pastLength, window).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The additive mask [batch, 1, 1, keys] of a bidirectional encoder (every query sees every real key), or
    /// null without padding.
    /// </summary>
    public static Tensor? ForEncoder(Tensor? attentionMask, ScalarType dtype) =>
        HasPadding(attentionMask) ? Additive(attentionMask!, 1, causal: false, dtype) : null;

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
