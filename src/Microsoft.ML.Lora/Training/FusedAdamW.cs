using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Training;

/// <summary>
/// AdamW whose parameters, gradients and moment estimates each live in one flat buffer per parameter group
/// (and dtype), with every parameter a view into it. An update is then a handful of tensor operations over the
/// whole group instead of ten per parameter — LoRA has hundreds of small parameters — and zeroing or clipping
/// gradients is one operation. The arithmetic is TorchSharp's <see cref="AdamW"/>'s, in the same order
/// (decoupled decay, bias-corrected moments, ε added after the square root), so results match it to float
/// rounding; it derives from it, so state saving and loading, learning-rate groups and schedules work unchanged.
/// A parameter that has never received a gradient is skipped exactly as AdamW skips it (the update then runs
/// per parameter until every one has a gradient).
/// </summary>
public sealed class FusedAdamW : AdamW
{
    private readonly List<FlatBucket> _buckets = [];

    /// <summary>Creates the optimizer and moves the groups' parameters into flat buffers (under no_grad).</summary>
    public FusedAdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : base(groups, lr, beta1, beta2, eps, weightDecay)
    {
        using var _ = no_grad();
        foreach (var group in _parameter_groups)
        {
            var parameters = group.Parameters.ToList();
            foreach (var sameKind in parameters.GroupBy(p => (p.dtype, p.device.type, p.device.index)))
            {
                _buckets.Add(new FlatBucket((Options)group.Options, [.. sameKind], _state));
            }
        }
    }

    /// <summary>The flat parameter buffers (one per group and dtype): views of them are the parameters.</summary>
    internal IReadOnlyList<Tensor> FlatParameters => [.. _buckets.Select(b => b.Values)];

    /// <inheritdoc />
    public override Tensor step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null)
        {
            using var grad = enable_grad();
            loss = closure();
        }
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        BindGradients();
        if (_buckets.All(b => b.CanStepTogether()))
        {
            foreach (var bucket in _buckets)
            {
                bucket.Step();
            }
        }
        else
        {
            // Some parameter has no gradient yet: AdamW's per-parameter loop (it works on the views too).
            base.step();
        }
        return loss!;
    }

    /// <inheritdoc />
    public override void zero_grad()
    {
        foreach (var bucket in _buckets)
        {
            bucket.ZeroGradients();
        }
    }

    /// <summary>
    /// Scales all gradients so that their joint 2-norm is at most <paramref name="maxNorm"/> (as
    /// <c>nn.utils.clip_grad_norm_</c> does) and returns the norm before clipping.
    /// </summary>
    public double ClipGradNorm(double maxNorm)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        BindGradients();
        var norms = _buckets.Where(b => b.AnyGradient).Select(b => linalg.vector_norm(b.Gradients).to(ScalarType.Float32)).ToList();
        if (norms.Count == 0)
        {
            return 0;
        }
        var total = norms.Count == 1 ? norms[0] : linalg.vector_norm(stack(norms));
        var coefficient = (maxNorm / (total + 1e-6)).clamp_max(1.0);
        foreach (var bucket in _buckets.Where(b => b.AnyGradient))
        {
            bucket.Gradients.mul_(coefficient.to(bucket.Gradients.dtype));
        }
        return total.item<float>();
    }

    /// <summary>The joint 2-norm of all gradients (0 when there are none), without changing them.</summary>
    public double GradientNorm()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        BindGradients();
        var norms = _buckets.Where(b => b.AnyGradient).Select(b => linalg.vector_norm(b.Gradients).to(ScalarType.Float32)).ToList();
        return norms.Count == 0 ? 0 : (norms.Count == 1 ? norms[0] : linalg.vector_norm(stack(norms))).item<float>();
    }

    /// <inheritdoc />
    public override void load_state_dict(StateDictionary state_dict)
    {
        base.load_state_dict(state_dict);
        foreach (var bucket in _buckets)
        {
            bucket.RebindState();
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            foreach (var bucket in _buckets)
            {
                bucket.Dispose();
            }
        }
    }

    private void BindGradients()
    {
        foreach (var bucket in _buckets)
        {
            bucket.BindGradients();
        }
    }

    /// <summary>Parameters of one group and dtype with their gradients and AdamW moments in flat buffers.</summary>
    private sealed class FlatBucket : IDisposable
    {
        private readonly Options _options;
        private readonly Parameter[] _parameters;
        private readonly State[] _states;
        private readonly Tensor[] _gradViews, _avgViews, _avgSqViews;
        private readonly bool[] _bound;
        private readonly Tensor _avg, _avgSq;

        public FlatBucket(Options options, Parameter[] parameters, TorchSharp.Utils.OrderedDict<IntPtr, OptimizerState> state)
        {
            _options = options;
            _parameters = parameters;
            long total = parameters.Sum(p => p.numel());
            var first = parameters[0];
            Values = empty(total, first.dtype, first.device).DetachFromDisposeScope();
            Gradients = zeros(total, first.dtype, first.device).DetachFromDisposeScope();
            _avg = zeros(total, first.dtype, first.device).DetachFromDisposeScope();
            _avgSq = zeros(total, first.dtype, first.device).DetachFromDisposeScope();
            _states = new State[parameters.Length];
            _gradViews = new Tensor[parameters.Length];
            _avgViews = new Tensor[parameters.Length];
            _avgSqViews = new Tensor[parameters.Length];
            _bound = new bool[parameters.Length];
            long offset = 0;
            for (int i = 0; i < parameters.Length; i++)
            {
                var p = parameters[i];
                long n = p.numel();
                var view = View(Values, offset, p);
                view.copy_(p);
                p.set_(view);   // the parameter now lives in the flat buffer (same object, same handle)
                view.Dispose();
                _gradViews[i] = View(Gradients, offset, p);
                _avgViews[i] = View(_avg, offset, p);
                _avgSqViews[i] = View(_avgSq, offset, p);
                _states[i] = (State)state[p.Handle];
                offset += n;
            }
            RebindState();
        }

        /// <summary>All parameters' values, end to end.</summary>
        public Tensor Values { get; }

        /// <summary>All parameters' gradients, end to end (zeros where a parameter has none yet).</summary>
        public Tensor Gradients { get; }

        public bool AnyGradient => _bound.Any(b => b);

        /// <summary>
        /// Makes each parameter's gradient a view into <see cref="Gradients"/> (autograd then accumulates in place).
        /// A gradient autograd created on its own is copied in once.
        /// </summary>
        public void BindGradients()
        {
            for (int i = 0; i < _parameters.Length; i++)
            {
                if (_bound[i])
                {
                    continue;
                }
                using var grad = _parameters[i].grad;
                if (grad is null)
                {
                    continue;
                }
                _gradViews[i].copy_(grad);
                _parameters[i].grad = _gradViews[i];
                _bound[i] = true;
            }
        }

        /// <summary>True when every parameter has a gradient and all took the same number of steps.</summary>
        public bool CanStepTogether()
        {
            if (_options.amsgrad == true || _options.maximize == true || !_bound.All(b => b))
            {
                return false;
            }
            long step = _states[0].step;
            return _states.All(s => s.step == step);
        }

        /// <summary>One AdamW update of every parameter: TorchSharp's AdamW.step arithmetic on the flat buffers.</summary>
        public void Step()
        {
            double lr = _options.LearningRate!.Value, beta1 = _options.beta1!.Value, beta2 = _options.beta2!.Value;
            double eps = _options.eps!.Value, weightDecay = _options.weight_decay!.Value;
            long step = _states[0].step + 1;
            foreach (var s in _states)
            {
                s.step = step;
            }
            Values.mul_(1 - lr * weightDecay);
            double biasCorrection1 = 1 - Math.Pow(beta1, step);
            double biasCorrection2 = 1 - Math.Pow(beta2, step);
            _avg.mul_(beta1).add_(Gradients, alpha: 1 - beta1);
            _avgSq.mul_(beta2).addcmul_(Gradients, Gradients, value: 1 - beta2);
            using var root = _avgSq.sqrt();
            using var denominator = root.div_(Math.Sqrt(biasCorrection2)).add_(eps);
            Values.addcdiv_(_avg, denominator, value: -lr / biasCorrection1);
        }

        public void ZeroGradients()
        {
            Gradients.zero_();
            for (int i = 0; i < _parameters.Length; i++)
            {
                if (!_bound[i])
                {
                    using var grad = _parameters[i].grad;
                    grad?.zero_();   // a gradient autograd made before the first step
                }
            }
        }

        /// <summary>Points each parameter's AdamW state at the flat moment buffers (copying values a load put elsewhere).</summary>
        public void RebindState()
        {
            for (int i = 0; i < _states.Length; i++)
            {
                _states[i].exp_avg = Rebind(_states[i].exp_avg, _avgViews[i]);
                _states[i].exp_avg_sq = Rebind(_states[i].exp_avg_sq, _avgSqViews[i]);
            }
        }

        private static Tensor Rebind(Tensor current, Tensor view)
        {
            if (current.Handle == view.Handle)
            {
                return view;
            }
            view.copy_(current);
            current.Dispose();
            return view;
        }

        private static Tensor View(Tensor flat, long offset, Tensor shapeOf) =>
            flat.narrow(0, offset, shapeOf.numel()).view(shapeOf.shape).DetachFromDisposeScope();

        public void Dispose()
        {
            foreach (var t in _gradViews.Concat(_avgViews).Concat(_avgSqViews))
            {
                t.Dispose();
            }
            _avg.Dispose();
            _avgSq.Dispose();
            Gradients.Dispose();
            Values.Dispose();
        }
    }
}
