using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// A frozen-able linear layer (torch <c>nn.Linear</c>, or GPT-2's <c>Conv1D</c> when
/// <see cref="FanInFanOut"/>) that hosts LoRA adapters by name, the way PEFT's <c>LoraLayer</c> does:
/// y = base(x) + Σ_active scale·B(A(dropout(x))). B·A is never materialised in the forward pass.
/// Parameter names follow PEFT's in-memory layout: <c>weight</c>, <c>bias</c>,
/// <c>lora_A.{adapter}.weight</c> [r, in], <c>lora_B.{adapter}.weight</c> [out, r].
/// </summary>
public sealed class AdaptableLinear : nn.Module<Tensor, Tensor>
{
    /// <summary>The base weight: [out, in], or [in, out] when <see cref="FanInFanOut"/> (Conv1D).</summary>
    public Parameter weight;

    /// <summary>The base bias [out], or null.</summary>
    public Parameter? bias;

    private ModuleDict<Linear>? lora_A;
    private ModuleDict<Linear>? lora_B;
    private readonly Dictionary<string, LoraAdapterSettings> _adapters = new(StringComparer.Ordinal);
    private string[] _active = [];

    /// <summary>Creates a layer with uninitialised weights (they are loaded or initialised by the model).</summary>
    public AdaptableLinear(long inFeatures, long outFeatures, bool hasBias, bool fanInFanOut = false, ScalarType dtype = ScalarType.Float32)
        : base(nameof(AdaptableLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        FanInFanOut = fanInFanOut;
        long[] shape = fanInFanOut ? [inFeatures, outFeatures] : [outFeatures, inFeatures];
        weight = new Parameter(empty(shape, dtype));
        bias = hasBias ? new Parameter(zeros(outFeatures, dtype)) : null;
        ResetParameters();
        RegisterComponents();
    }

    /// <summary>Input width.</summary>
    public long InFeatures { get; }

    /// <summary>Output width.</summary>
    public long OutFeatures { get; }

    /// <summary>True for GPT-2's Conv1D, whose weight is stored [in, out] (PEFT's fan_in_fan_out).</summary>
    public bool FanInFanOut { get; }

    /// <summary>Adapters attached to this layer, by name.</summary>
    public IReadOnlyDictionary<string, LoraAdapterSettings> Adapters => _adapters;

    /// <summary>Names of the adapters applied in <see cref="forward"/>.</summary>
    public IReadOnlyList<string> ActiveAdapters => _active;

    /// <summary>When true the adapters are skipped (the base layer alone runs).</summary>
    public bool AdaptersDisabled { get; set; }

    /// <summary>The A matrix module of an adapter ([r, in] weight).</summary>
    public Linear LoraA(string adapter) => lora_A![adapter];

    /// <summary>The B matrix module of an adapter ([out, r] weight).</summary>
    public Linear LoraB(string adapter) => lora_B![adapter];

    /// <summary>Kaiming-uniform weight and uniform bias, like torch.nn.Linear.</summary>
    public void ResetParameters()
    {
        using var _ = no_grad();
        var fanIn = InFeatures;
        var bound = 1.0 / Math.Sqrt(fanIn);
        // kaiming_uniform_(a=√5) on [out,in] gives U(-1/√fan_in, 1/√fan_in).
        weight.uniform_(-bound, bound);
        bias?.uniform_(-bound, bound);
    }

    /// <summary>
    /// Adds an adapter with A initialised kaiming-uniform (PEFT's default) and B zero, so the layer's
    /// output is unchanged until B is trained. The new adapter becomes active.
    /// </summary>
    public void AddAdapter(string name, LoraAdapterSettings settings, Generator? generator = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (_adapters.ContainsKey(name))
        {
            throw new ArgumentException($"Adapter '{name}' already exists on this layer.", nameof(name));
        }
        if (lora_A is null)
        {
            lora_A = new ModuleDict<Linear>();
            lora_B = new ModuleDict<Linear>();
            register_module(nameof(lora_A), lora_A);
            register_module(nameof(lora_B), lora_B!);
        }
        var device = weight.device;
        var a = nn.Linear(InFeatures, settings.Rank, hasBias: false, device: device, dtype: ScalarType.Float32);
        var b = nn.Linear(settings.Rank, OutFeatures, hasBias: false, device: device, dtype: ScalarType.Float32);
        using (no_grad())
        {
            var bound = 1.0 / Math.Sqrt(InFeatures);
            a.weight!.uniform_(-bound, bound, generator);
            b.weight!.zero_();
        }
        lora_A.Add(name, a);
        lora_B!.Add(name, b);
        _adapters[name] = settings;
        _active = [.. _active, name];
    }

    /// <summary>Chooses which adapters run; each must exist.</summary>
    public void SetActiveAdapters(params string[] names)
    {
        foreach (var n in names)
        {
            if (!_adapters.ContainsKey(n))
            {
                throw new ArgumentException($"Adapter '{n}' does not exist on this layer (have: {string.Join(", ", _adapters.Keys)}).", nameof(names));
            }
        }
        _active = names;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        var y = BaseForward(x);
        if (AdaptersDisabled || _active.Length == 0)
        {
            return y;
        }
        foreach (var name in _active)
        {
            var settings = _adapters[name];
            var input = x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
            if (training && settings.Dropout > 0)
            {
                input = nn.functional.dropout(input, settings.Dropout, training: true);
            }
            var delta = lora_B![name].forward(lora_A![name].forward(input));
            y = y.dtype == delta.dtype ? y.add(delta, settings.Scale) : y.add(delta.to(y.dtype), settings.Scale);
        }
        return y;
    }

    /// <summary>The base layer alone: x·Wᵀ + b (or x·W + b for Conv1D).</summary>
    public Tensor BaseForward(Tensor x) =>
        FanInFanOut
            ? (bias is null ? x.matmul(weight) : torch.addmm(bias, x.reshape(-1, InFeatures), weight, 1, 1).reshape([.. x.shape[..^1], OutFeatures]))
            : nn.functional.linear(x, weight, bias);
}

/// <summary>One adapter's hyper-parameters on one layer (after rank/alpha patterns are applied).</summary>
public sealed record LoraAdapterSettings(int Rank, double Alpha, double Dropout = 0, bool UseRsLora = false)
{
    /// <summary>The factor applied to B·A·x.</summary>
    public double Scale => LoraConfig.ScaleFor(Rank, Alpha, UseRsLora);
}
