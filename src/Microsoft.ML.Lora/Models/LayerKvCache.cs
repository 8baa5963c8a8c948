using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Models;

/// <summary>Keys and values of one attention layer for the tokens seen so far: [B, kv_heads, S, head_dim].</summary>
public sealed class LayerKvCache : IDisposable
{
    private Tensor? _keys, _values;

    /// <summary>Number of cached positions.</summary>
    public long Length => _keys?.shape[2] ?? 0;

    /// <summary>Appends this step's keys/values and returns all of them.</summary>
    public (Tensor Keys, Tensor Values) Append(Tensor keys, Tensor values)
    {
        var newKeys = _keys is null ? keys.detach() : cat([_keys, keys.detach()], 2);
        var newValues = _values is null ? values.detach() : cat([_values, values.detach()], 2);
        _keys?.Dispose();
        _values?.Dispose();
        _keys = newKeys.DetachFromDisposeScope();
        _values = newValues.DetachFromDisposeScope();
        return (_keys.alias(), _values.alias());
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _keys?.Dispose();
        _values?.Dispose();
        _keys = _values = null;
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
