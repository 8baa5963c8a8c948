namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// The LoRA settings a sweep explores. Every dimension left null is not swept: trials take the base
/// settings' value for it. α is given either absolutely (<see cref="Alphas"/>) or as a multiple of r
/// (<see cref="AlphaRatios"/>, e.g. 2 for the "α = 2r" rule of thumb), not both.
/// </summary>
public sealed class LoraSearchSpace
{
    /// <summary>Target set {q_proj, v_proj}: the LoRA paper's default.</summary>
    public const string QueryValue = "q_proj,v_proj";

    /// <summary>Target set {q_proj, k_proj, v_proj, o_proj}: every attention projection.</summary>
    public const string AllAttention = "q_proj,k_proj,v_proj,o_proj";

    /// <summary>Target set: every linear layer except the output head.</summary>
    public const string AllLinear = "all-linear";

    /// <summary>Ranks r (whole numbers ≥ 1); a log-uniform interval is rounded to whole numbers.</summary>
    public SearchRange? Ranks { get; set; }

    /// <summary>Absolute α values (&gt; 0). Mutually exclusive with <see cref="AlphaRatios"/>.</summary>
    public SearchRange? Alphas { get; set; }

    /// <summary>α as a multiple of r (&gt; 0): α = ratio · r. Mutually exclusive with <see cref="Alphas"/>.</summary>
    public SearchRange? AlphaRatios { get; set; }

    /// <summary>Learning rates (&gt; 0); usually <see cref="SearchRange.LogUniform"/>.</summary>
    public SearchRange? LearningRates { get; set; }

    /// <summary>LoRA dropout values in [0, 1).</summary>
    public SearchRange? Dropouts { get; set; }

    /// <summary>Target module sets, each a comma list or "all-linear" (see <see cref="QueryValue"/>, <see cref="AllAttention"/>, <see cref="AllLinear"/>).</summary>
    public IReadOnlyList<string>? TargetModuleSets { get; set; }

    /// <summary>rsLoRA off and/or on.</summary>
    public IReadOnlyList<bool>? UseRsLora { get; set; }

    /// <summary>Numbers of epochs (whole numbers ≥ 1).</summary>
    public SearchRange? Epochs { get; set; }

    /// <summary>True when random search would draw from a continuum (some dimension is an interval).</summary>
    public bool IsContinuous =>
        new[] { Ranks, Alphas, AlphaRatios, LearningRates, Dropouts, Epochs }.Any(r => r is { IsContinuous: true });

    /// <summary>
    /// Throws <see cref="InvalidSearchSpaceException"/> when the space sweeps nothing, has an empty
    /// dimension, an inverted or out-of-domain interval, a non-positive α or α/r, or both α forms.
    /// </summary>
    public void Validate()
    {
        if (Ranks is null && Alphas is null && AlphaRatios is null && LearningRates is null && Dropouts is null
            && TargetModuleSets is null && UseRsLora is null && Epochs is null)
        {
            throw new InvalidSearchSpaceException("(all)", "the search space is empty: set at least one of Ranks, Alphas or AlphaRatios, LearningRates, Dropouts, TargetModuleSets, UseRsLora, Epochs.");
        }
        if (Alphas is not null && AlphaRatios is not null)
        {
            throw new InvalidSearchSpaceException(nameof(Alphas), "give α either absolutely (Alphas) or as a ratio to r (AlphaRatios), not both.");
        }
        Ranks?.Validate(nameof(Ranks), integer: true, inclusiveLower: 1);
        Alphas?.Validate(nameof(Alphas), integer: false, exclusiveLower: 0);
        AlphaRatios?.Validate(nameof(AlphaRatios), integer: false, exclusiveLower: 0);
        LearningRates?.Validate(nameof(LearningRates), integer: false, exclusiveLower: 0);
        Dropouts?.Validate(nameof(Dropouts), integer: false, inclusiveLower: 0, exclusiveUpper: 1);
        Epochs?.Validate(nameof(Epochs), integer: true, inclusiveLower: 1);
        if (TargetModuleSets is not null)
        {
            if (TargetModuleSets.Count == 0)
            {
                throw new InvalidSearchSpaceException(nameof(TargetModuleSets), "the list of target module sets is empty.");
            }
            var blank = TargetModuleSets.FirstOrDefault(s => string.IsNullOrWhiteSpace(s) || s.Split(',').Any(string.IsNullOrWhiteSpace));
            if (blank is not null)
            {
                throw new InvalidSearchSpaceException(nameof(TargetModuleSets), $"the target set '{blank}' has an empty module name (use comma lists like q_proj,v_proj or all-linear).");
            }
        }
        if (UseRsLora is { Count: 0 })
        {
            throw new InvalidSearchSpaceException(nameof(UseRsLora), "the list of rsLoRA choices is empty.");
        }
    }

    /// <summary>A description of every swept dimension; two sweeps with equal descriptions explore the same space.</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        void Add(string name, object? value)
        {
            if (value is not null)
            {
                parts.Add($"{name}=[{value}]");
            }
        }
        Add("ranks", Ranks);
        Add("alphas", Alphas);
        Add("alpha-ratios", AlphaRatios);
        Add("learning-rates", LearningRates);
        Add("dropouts", Dropouts);
        Add("targets", TargetModuleSets is null ? null : string.Join(" | ", TargetModuleSets));
        Add("rslora", UseRsLora is null ? null : string.Join(",", UseRsLora.Select(b => b ? "on" : "off")));
        Add("epochs", Epochs);
        return string.Join(" ", parts);
    }
}
