namespace Microsoft.ML.Lora.Sweeps;

/// <summary>
/// Turns a search space into the ordered list of settings a sweep trains. Grid order is fixed: rank
/// varies slowest, then α, learning rate, dropout, target set, rsLoRA, and epochs fastest. Random order
/// depends only on the seed, so the same seed always gives the same trials.
/// </summary>
internal static class TrialCandidates
{
    /// <summary>Every grid point, in grid order, without duplicates.</summary>
    public static IReadOnlyList<TrialSettings> Grid(LoraSearchSpace space, TrialSettings baseSettings)
    {
        var ranks = Values(space.Ranks, integer: true, baseSettings.Rank);
        var alphas = space.Alphas?.GridValues(integer: false) ?? space.AlphaRatios?.GridValues(integer: false) ?? [baseSettings.Alpha];
        var rates = Values(space.LearningRates, integer: false, baseSettings.LearningRate);
        var dropouts = Values(space.Dropouts, integer: false, baseSettings.Dropout);
        var targets = space.TargetModuleSets ?? [baseSettings.TargetModules];
        var rsLora = space.UseRsLora ?? [baseSettings.UseRsLora];
        var epochs = Values(space.Epochs, integer: true, baseSettings.Epochs);

        var points = new List<TrialSettings>();
        var seen = new HashSet<TrialSettings>();
        foreach (var rank in ranks)
        {
            foreach (var alpha in alphas)
            {
                foreach (var rate in rates)
                {
                    foreach (var dropout in dropouts)
                    {
                        foreach (var target in targets)
                        {
                            foreach (var rs in rsLora)
                            {
                                foreach (var epoch in epochs)
                                {
                                    var point = Compose(space, baseSettings, rank, alpha, rate, dropout, target, rs, epoch);
                                    if (seen.Add(point))
                                    {
                                        points.Add(point);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return points;
    }

    /// <summary>
    /// Up to <paramref name="count"/> distinct random settings. A finite space is shuffled (so no point
    /// repeats and a larger count extends a smaller one's list); a continuous one is sampled point by point.
    /// </summary>
    public static IReadOnlyList<TrialSettings> Random(LoraSearchSpace space, TrialSettings baseSettings, int? count, int seed)
    {
        var random = new Random(seed);
        if (!space.IsContinuous)
        {
            var grid = Grid(space, baseSettings).ToArray();
            // Fisher–Yates written out (not Random.Shuffle) so the order stays the same across .NET versions.
            for (var i = grid.Length - 1; i > 0; i--)
            {
                var j = random.Next(i + 1);
                (grid[i], grid[j]) = (grid[j], grid[i]);
            }
            return grid.Take(count ?? grid.Length).ToArray();
        }
        var wanted = count ?? throw new InvalidSweepOptionsException(nameof(LoraSweepOptions.MaxTrials), "random search over a continuous range needs MaxTrials.");
        var points = new List<TrialSettings>();
        var seen = new HashSet<TrialSettings>();
        // Rounded ranks or small choice lists can repeat a point; give up after many misses rather than loop forever.
        for (var attempts = 0; points.Count < wanted && attempts < wanted * 100; attempts++)
        {
            var point = Sample(space, baseSettings, random);
            if (seen.Add(point))
            {
                points.Add(point);
            }
        }
        return points;
    }

    private static TrialSettings Sample(LoraSearchSpace space, TrialSettings baseSettings, Random random)
    {
        // Dimensions draw in a fixed order, so the same space and seed always give the same points.
        var rank = (int)(space.Ranks?.Sample(random, integer: true) ?? baseSettings.Rank);
        var alpha = (space.Alphas ?? space.AlphaRatios)?.Sample(random, integer: false) ?? baseSettings.Alpha;
        var rate = space.LearningRates?.Sample(random, integer: false) ?? baseSettings.LearningRate;
        var dropout = space.Dropouts?.Sample(random, integer: false) ?? baseSettings.Dropout;
        var target = space.TargetModuleSets is { } sets ? sets[random.Next(sets.Count)] : baseSettings.TargetModules;
        var rs = space.UseRsLora is { } flags ? flags[random.Next(flags.Count)] : baseSettings.UseRsLora;
        var epochs = (int)(space.Epochs?.Sample(random, integer: true) ?? baseSettings.Epochs);
        return Compose(space, baseSettings, rank, alpha, rate, dropout, target, rs, epochs);
    }

    private static TrialSettings Compose(LoraSearchSpace space, TrialSettings baseSettings, double rank, double alphaOrRatio,
        double rate, double dropout, string target, bool rs, double epochs) => baseSettings with
    {
        Rank = (int)rank,
        Alpha = space.AlphaRatios is null ? alphaOrRatio : alphaOrRatio * rank,
        LearningRate = rate,
        Dropout = dropout,
        TargetModules = target,
        UseRsLora = rs,
        Epochs = (int)epochs,
    };

    private static IReadOnlyList<double> Values(SearchRange? range, bool integer, double baseValue) =>
        range?.GridValues(integer) ?? [baseValue];
}
