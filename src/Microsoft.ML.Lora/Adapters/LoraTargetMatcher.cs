using System.Globalization;
using System.Text.RegularExpressions;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// PEFT's rules for which modules an adapter touches, applied to full module paths such as
/// "model.layers.0.self_attn.q_proj": target_modules (exact, dotted suffix, full-match regex or
/// all-linear), exclude_modules, layers_to_transform/layers_pattern, modules_to_save, rank/alpha patterns.
/// </summary>
public static class LoraTargetMatcher
{
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(2);

    /// <summary>True when <paramref name="path"/> is a LoRA target of <paramref name="config"/>.</summary>
    /// <param name="config">The adapter's settings.</param>
    /// <param name="path">The module's full path.</param>
    /// <param name="isLinear">Whether the module is a linear layer (only those count for all-linear).</param>
    /// <param name="outputHead">The model's output head module, never an all-linear target.</param>
    public static bool IsTarget(LoraConfig config, string path, bool isLinear, string outputHead)
    {
        if (IsExcluded(config, path) || CollidesWithModulesToSave(config.EffectiveModulesToSave, path))
        {
            return false;
        }
        if (config.TargetsAllLinear)
        {
            return isLinear && path != outputHead && !path.EndsWith("." + outputHead, StringComparison.Ordinal) && LayerAllowed(config, path);
        }
        if (config.TargetModulesRegex is { } regex)
        {
            return FullMatch(regex, path);
        }
        var names = config.TargetModules ?? [];
        if (names.Contains(path))
        {
            return true;
        }
        return names.Any(n => path.EndsWith("." + n, StringComparison.Ordinal)) && LayerAllowed(config, path);
    }

    /// <summary>True when <paramref name="path"/> is a module trained in full and saved (PEFT: the path ends with a name).</summary>
    public static bool IsModuleToSave(IReadOnlyList<string> modulesToSave, string path) =>
        modulesToSave.Any(n => path.EndsWith(n, StringComparison.Ordinal));

    /// <summary>The rank for a module: the first rank_pattern key matching a dotted suffix of the path, else r.</summary>
    public static int RankFor(LoraConfig config, string path) =>
        PatternValue(config.RankPattern, path, out int r) ? r : config.Rank;

    /// <summary>The α for a module: the first alpha_pattern key matching a dotted suffix of the path, else lora_alpha.</summary>
    public static double AlphaFor(LoraConfig config, string path) =>
        PatternValue(config.AlphaPattern, path, out double a) ? a : config.Alpha;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first regular expression that does not compile.</summary>
    public static void CheckPatterns(LoraConfig config, string source)
    {
        var patterns = new List<(string Key, string Pattern)>();
        if (config.TargetModulesRegex is { } t && !config.TargetsAllLinear)
        {
            patterns.Add(("target_modules", t));
        }
        if (config.ExcludeModulesRegex is { } e)
        {
            patterns.Add(("exclude_modules", e));
        }
        patterns.AddRange(config.RankPattern.Keys.Select(k => ("rank_pattern", k)));
        patterns.AddRange(config.AlphaPattern.Keys.Select(k => ("alpha_pattern", k)));
        patterns.AddRange((config.LayersPattern ?? []).Select(k => ("layers_pattern", k)));
        foreach (var (key, pattern) in patterns)
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.None, RegexTimeout);
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"{source}: {key} '{pattern}' is not a valid regular expression: {ex.Message}", key, ex);
            }
        }
    }

    private static bool IsExcluded(LoraConfig config, string path)
    {
        if (config.ExcludeModulesRegex is { } regex)
        {
            return FullMatch(regex, path);
        }
        var names = config.ExcludeModules ?? [];
        return names.Contains(path) || names.Any(n => path.EndsWith("." + n, StringComparison.Ordinal));
    }

    // PEFT never puts LoRA on a module that is also saved in full (its wrapper would conflict).
    private static bool CollidesWithModulesToSave(IReadOnlyList<string> modulesToSave, string path) =>
        modulesToSave.Any(m => Regex.IsMatch(path, $@"(^|.*\.){m}($|\..*)", RegexOptions.None, RegexTimeout));

    private static bool LayerAllowed(LoraConfig config, string path)
    {
        if (config.LayersToTransform is not { Count: > 0 } indices)
        {
            return true;
        }
        Match? match = null;
        if (config.LayersPattern is not { Count: > 0 } layerNames)
        {
            // The first numbered segment is the layer index (lazy, so nested indices are not picked up).
            match = Regex.Match(path, @"^.*?\.[^.]*\.(\d+)\.", RegexOptions.None, RegexTimeout);
        }
        else
        {
            foreach (var name in layerNames)
            {
                match = Regex.Match(path, $@"^.*?\.{name}\.(\d+)\.", RegexOptions.None, RegexTimeout);
                if (match.Success)
                {
                    break;
                }
            }
        }
        return match is { Success: true } && indices.Contains(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static bool PatternValue<T>(Dictionary<string, T> patterns, string path, out T value)
    {
        foreach (var (key, v) in patterns)
        {
            if (Regex.IsMatch(path, $@"^(.*\.)?({key})\z", RegexOptions.None, RegexTimeout))
            {
                value = v;
                return true;
            }
        }
        value = default!;
        return false;
    }

    private static bool FullMatch(string pattern, string path) =>
        Regex.IsMatch(path, $@"^(?:{pattern})\z", RegexOptions.None, RegexTimeout);
}
