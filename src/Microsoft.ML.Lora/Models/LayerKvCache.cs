using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>
/// Keys and values of one attention layer for the tokens seen so far: [B, kv_heads, S, head_dim]. Each step's keys and
/// values are written in place into a buffer with room to spare (its capacity doubles when full), so a decode step
/// copies only its own positions instead of concatenating the whole cache again.
/// </summary>
public sealed class LayerKvCache : IDisposable
{
    private const long InitialCapacity = 64;
    private Tensor? _keys, _values;

    /// <summary>Number of cached positions.</summary>
    public long Length { get; private set; }

    /// <summary>Positions the buffers hold before they must grow.</summary>
    public long Capacity => _keys?.shape[2] ?? 0;

    /// <summary>Appends this step's keys/values and returns views of all of them (valid until the next append).</summary>
    public (Tensor Keys, Tensor Values) Append(Tensor keys, Tensor values)
    {
        long added = keys.shape[2], length = Length + added;
        if (_keys is null || length > Capacity || _keys.shape[0] != keys.shape[0])
        {
            Grow(keys, values, Math.Max(InitialCapacity, Math.Max(length, 2 * Capacity)));
        }
        using (var keySlot = _keys!.narrow(2, Length, added))
        using (var valueSlot = _values!.narrow(2, Length, added))
        {
            keySlot.copy_(keys.detach());
            valueSlot.copy_(values.detach());
        }
        Length = length;
        return (_keys.narrow(2, 0, length), _values!.narrow(2, 0, length));
    }

    private void Grow(Tensor keys, Tensor values, long capacity)
    {
        if (_keys is not null && _keys.shape[0] != keys.shape[0])
        {
            throw new InvalidOperationException($"The KV cache holds {_keys.shape[0]} rows; this step has {keys.shape[0]}. Use a fresh cache for a new batch.");
        }
        var newKeys = empty([keys.shape[0], keys.shape[1], capacity, keys.shape[3]], keys.dtype, keys.device).DetachFromDisposeScope();
        var newValues = empty([values.shape[0], values.shape[1], capacity, values.shape[3]], values.dtype, values.device).DetachFromDisposeScope();
        if (_keys is not null && Length > 0)
        {
            using var keyCopy = newKeys.narrow(2, 0, Length);
            using var valueCopy = newValues.narrow(2, 0, Length);
            using var oldKeys = _keys.narrow(2, 0, Length);
            using var oldValues = _values!.narrow(2, 0, Length);
            keyCopy.copy_(oldKeys);
            valueCopy.copy_(oldValues);
        }
        _keys?.Dispose();
        _values?.Dispose();
        _keys = newKeys;
        _values = newValues;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _keys?.Dispose();
        _values?.Dispose();
        _keys = _values = null;
        Length = 0;
    }
}

/// <summary>One <see cref="LayerKvCache"/> per layer.</summary>
public sealed class KvCache : IDisposable
{
    /// <summary>Creates an empty cache for a model with <paramref name="layers"/> layers.</summary>
    public KvCache(int layers) => Layers = Enumerable.Range(0, layers).Select(_ => new LayerKvCache()).ToArray();

    /// <summary>The per-layer caches.</summary>
    public IReadOnlyList<LayerKvCache> Layers { get; }

    /// <summary>Number of cached positions.</summary>
    public long Length => Layers[0].Length;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var layer in Layers)
        {
            layer.Dispose();
        }
    }
}
