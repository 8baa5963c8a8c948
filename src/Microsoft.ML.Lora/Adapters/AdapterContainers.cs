using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// Sub-modules keyed by adapter name (PEFT's <c>nn.ModuleDict</c>, e.g. <c>lora_A.{adapter}</c>). Unlike
/// TorchSharp's ModuleDict, entries added after registration are registered too, and entries can be removed.
/// </summary>
internal sealed class AdapterModules<T> : nn.Module where T : nn.Module
{
    private readonly Dictionary<string, T> _byName = new(StringComparer.Ordinal);

    public AdapterModules() : base("AdapterModules")
    {
    }

    public T this[string adapter] => _byName[adapter];

    public bool Contains(string adapter) => _byName.ContainsKey(adapter);

    public void Add(string adapter, T module)
    {
        _byName.Add(adapter, module);
        register_module(adapter, module);
    }

    public void Remove(string adapter)
    {
        if (_byName.Remove(adapter, out var module))
        {
            _internal_submodules.Remove(adapter);
            module.Dispose();
        }
    }
}

/// <summary>
/// Parameters keyed by adapter name (PEFT's <c>nn.ParameterDict</c>, e.g. <c>lora_embedding_A.{adapter}</c>).
/// Lookups go through the registered parameters, so they stay valid after the module is moved with .to().
/// </summary>
internal sealed class AdapterParameters : nn.Module
{
    public AdapterParameters() : base("AdapterParameters")
    {
    }

    public Parameter this[string adapter] => _internal_params[adapter];

    public bool Contains(string adapter) => _internal_params.ContainsKey(adapter);

    public void Add(string adapter, Parameter parameter) => register_parameter(adapter, parameter);

    public void Remove(string adapter)
    {
        if (_internal_params.TryGetValue(adapter, out var parameter))
        {
            _internal_params.Remove(adapter);
            parameter.Dispose();
        }
    }
}

/// <summary>One trainable matrix or vector, saved as <c>{container}.{adapter}.weight</c> like PEFT's layers.</summary>
internal sealed class LoraWeight : nn.Module
{
    public Parameter weight;

    public LoraWeight(Tensor value) : base(nameof(LoraWeight))
    {
        weight = new Parameter(value);
        weight.DetachFromDisposeScope();
        RegisterComponents();
    }
}

/// <summary>A per-adapter full copy of a layer's weight (and bias), PEFT's <c>modules_to_save.{adapter}</c>.</summary>
internal sealed class SavedModuleCopy : nn.Module
{
    public Parameter weight;
    public Parameter? bias;

    public SavedModuleCopy(Tensor weightValue, Tensor? biasValue) : base(nameof(SavedModuleCopy))
    {
        weight = new Parameter(weightValue);
        weight.DetachFromDisposeScope();
        if (biasValue is not null)
        {
            bias = new Parameter(biasValue);
            bias.DetachFromDisposeScope();
        }
        RegisterComponents();
    }
}
