using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Aggregation;

/// <summary>
/// The EULAR fast-track algorithm (Smith et al., Ann Rheum Dis 2020): non-scleroderma when density ≥ 7/mm with no
/// giants and no abnormal shapes (rule 1); scleroderma when giants are present, or density ≤ 3/mm with abnormal shapes
/// (rule 2); otherwise non-scleroderma with non-specific abnormalities (rule 3). A scleroderma pattern is then staged
/// early / active / late after Cutolo (2000). A density from fewer fields or fingers than the options ask for (or none)
/// decides no rule, and without giants the patient is then Indeterminate: too little to call.
/// </summary>
public sealed class FastTrackClassifier
{
    private readonly FastTrackOptions _options;

    public FastTrackClassifier(FastTrackOptions? options = null)
    {
        _options = options ?? FastTrackOptions.Default;
        var problems = _options.Validate();
        if (problems.Count > 0) throw new ArgumentException("Invalid fast-track options: " + string.Join(" ", problems), nameof(options));
    }

    public FastTrackResult Classify(FastTrackInputs inputs)
    {
        var o = _options;
        var trace = new List<FastTrackTraceEntry>();
        string? tooFew = TooFewForDensity(inputs);
        FastTrackCondition Density(string comparison, double threshold) => tooFew is null
            ? FastTrackCondition.Check("density per mm", inputs.DensityPerMm, comparison, threshold)
            : FastTrackCondition.NotUsed("density per mm", inputs.DensityPerMm!.Value, comparison, threshold, tooFew);

        string? giantsUnseen = GiantsUnseen(inputs);
        var nonSsc = Rule(trace, "Non-scleroderma: density ≥ threshold, no giants, no abnormal shapes", requiresAll: true,
            Density(">=", o.NonSclerodermaMinDensityPerMm),
            giantsUnseen is null
                ? FastTrackCondition.Check(Giants(inputs), inputs.GiantCount, "<", o.GiantsPresentMinCount)
                : FastTrackCondition.NotUsed(Giants(inputs), inputs.GiantCount, "<", o.GiantsPresentMinCount, giantsUnseen),
            FastTrackCondition.Check("abnormal shapes", inputs.AbnormalCount, "<", o.AbnormalShapesPresentMinCount));
        var giants = Rule(trace, "Scleroderma: giant capillaries present", requiresAll: true,
            FastTrackCondition.Check(Giants(inputs), inputs.GiantCount, ">=", o.GiantsPresentMinCount));
        var lossWithShapes = Rule(trace, "Scleroderma: density ≤ threshold with abnormal shapes", requiresAll: true,
            Density("<=", o.SclerodermaMaxDensityPerMm),
            FastTrackCondition.Check("abnormal shapes", inputs.AbnormalCount, ">=", o.AbnormalShapesPresentMinCount));

        if (nonSsc)
            return new FastTrackResult(FastTrackPattern.NonScleroderma, null, inputs, trace, "Non-scleroderma pattern by fast-track (rule 1: normal).");
        if (!giants && !lossWithShapes)
        {
            // Without a density the rules may use, neither rule 1 nor the loss rule could be judged: too little to call.
            if (inputs.DensityPerMm is null)
                return new FastTrackResult(FastTrackPattern.Indeterminate, null, inputs, trace, "Not classifiable by fast-track: no gradable density and no giants.");
            if (tooFew is not null)
                return new FastTrackResult(FastTrackPattern.Indeterminate, null, inputs, trace, $"Not classifiable by fast-track: no giants, and the density is not used, {tooFew}.");
            // Rule 3 places what neither rule does, giants absent: not known absent when few apices were measured.
            if (giantsUnseen is not null)
                return new FastTrackResult(FastTrackPattern.Indeterminate, null, inputs, trace,
                    $"Not classifiable by fast-track: no scleroderma rule holds, but whether giants are absent is not known ({giantsUnseen}).");
            // The published algorithm's rule 3 (Smith et al.): every image neither rule places is non-scleroderma,
            // "non-specific abnormalities" (a density below 7/mm, or abnormal shapes without severe loss).
            trace.Add(new FastTrackTraceEntry("Non-scleroderma (rule 3): neither rule 1 nor rule 2 holds", true, [], true,
                "Rule 3: neither the normal rule nor a scleroderma rule holds: non-specific abnormalities."));
            return new FastTrackResult(FastTrackPattern.NonScleroderma, null, inputs, trace,
                "Non-scleroderma pattern by fast-track (rule 3: non-specific abnormalities; neither the normal nor a scleroderma rule holds).");
        }

        var sub = Stage(inputs, trace, Density, densityUsable: tooFew is null && inputs.DensityPerMm is not null, out var undetermined);
        string stage = sub is { } known
            ? $"Scleroderma pattern by fast-track, {known.ToString().ToLowerInvariant()} (Cutolo)"
            : $"Scleroderma pattern by fast-track, stage not determined ({undetermined})";
        return new FastTrackResult(FastTrackPattern.Scleroderma, sub, inputs, trace,
            tooFew is null ? stage + "." : $"{stage}; the density is not used, {tooFew}.");
    }

    /// <summary>Why the density may not decide a rule, or null when it may (or is unknown, which decides nothing anyway).</summary>
    private string? TooFewForDensity(FastTrackInputs inputs)
    {
        var o = _options;
        // Fingers not named by the study (a patient/field layout) cannot be counted; their fields still are.
        bool enoughFingers = inputs.DensityFingerCount is not { } fingers || fingers >= o.MinDensityFingers;
        if (inputs.DensityPerMm is null || (inputs.DensityFieldCount >= o.MinDensityFields && enoughFingers))
            return null;
        string on = inputs.DensityFingerCount is { } n ? "on " + Count(n, "finger") : "whose fingers are not named";
        return $"it comes from {Count(inputs.DensityFieldCount, "field")} {on}, " +
               $"fewer than the {Count(o.MinDensityFields, "field")} on {Count(o.MinDensityFingers, "finger")} asked for";
    }

    private static string Count(int n, string noun) => $"{n} {noun}{(n == 1 ? "" : "s")}";

    /// <summary>Why "no giants" cannot be told (too few loops with a measured apex), or null when it can.</summary>
    private string? GiantsUnseen(FastTrackInputs inputs) =>
        inputs.GiantCount < _options.GiantsPresentMinCount ? ApicesTooFew(inputs) : null;

    /// <summary>
    /// Why the giant flags say too little (measured for under MinGiantKnownShare of the loops that could be giant: an
    /// abnormal loop, never giant, is no evidence), or null when they say enough.
    /// </summary>
    private string? ApicesTooFew(FastTrackInputs inputs)
    {
        int candidates = inputs.GiantCandidateCount ?? inputs.LoopCount;
        return candidates > 0 && inputs.GiantCandidatesKnown < _options.MinGiantKnownShare * candidates
            ? $"the apex is measured for {inputs.GiantCandidatesKnown} of {Count(candidates, "loop")}{(inputs.GiantCandidateCount is null ? "" : " that could be giant")}, " +
              $"fewer than the share of {_options.MinGiantKnownShare.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)} asked for"
            : null;
    }

    // A loop whose giant flag is unknown (its apex unmeasured) counts as no giant in the rules, as a reader counts the
    // giants seen; the trace says over how many loops that was known, so "0 giants" over few is not read as over all.
    private static string Giants(FastTrackInputs inputs) => inputs.GiantUnknownCount > 0
        ? $"giant capillaries (known for {inputs.GiantKnownCount} of {Count(inputs.LoopCount, "loop")})"
        : "giant capillaries";

    private static string GiantShareOf(FastTrackInputs inputs) => inputs.GiantUnknownCount > 0
        ? "giant share of loops whose giant flag is known"
        : "giant share of loops";

    /// <summary>
    /// Cutolo's stage; null, with <paramref name="undetermined"/> saying why, when neither late nor active holds and early
    /// cannot be shown: the density is not known preserved, or the giant share is from too few measured apices (one
    /// giant among one measured apex and 39 unmeasured is neither frequent nor few giants).
    /// </summary>
    private SclerodermaSubPattern? Stage(FastTrackInputs inputs, List<FastTrackTraceEntry> trace, Func<string, double, FastTrackCondition> density,
        bool densityUsable, out string? undetermined)
    {
        var o = _options;
        undetermined = null;
        string? apicesTooFew = ApicesTooFew(inputs);
        if (Rule(trace, "Late: severe loss, abnormal shapes, few or no giants", requiresAll: true,
                density("<=", o.LateMaxDensityPerMm),
                FastTrackCondition.Check("abnormal shapes", inputs.AbnormalCount, ">=", o.AbnormalShapesPresentMinCount),
                // No loop's giant flag known: no giant seen, as the rules count them; the trace says so rather than show a 0.
                FastTrackCondition.Check(inputs.GiantShare is null ? GiantShareOf(inputs) + " (known for none; taken as 0)" : GiantShareOf(inputs),
                    inputs.GiantShare ?? 0, "<", o.ActiveMinGiantShare)))
            return SclerodermaSubPattern.Late;
        if (Rule(trace, "Active: frequent giants, frequent hemorrhages, or moderate loss", requiresAll: false,
                apicesTooFew is not null && inputs.GiantShare is { } share
                    ? FastTrackCondition.NotUsed(GiantShareOf(inputs), share, ">=", o.ActiveMinGiantShare, apicesTooFew)
                    : FastTrackCondition.Check(GiantShareOf(inputs), inputs.GiantShare, ">=", o.ActiveMinGiantShare),
                FastTrackCondition.Check("hemorrhages per loop", inputs.HemorrhageShare, ">=", o.ActiveMinHemorrhageShare),
                density("<", o.EarlyMinDensityPerMm)))
            return SclerodermaSubPattern.Active;
        if (!densityUsable)
        {
            trace.Add(new FastTrackTraceEntry("Early: few giants and hemorrhages, preserved density", true, [], false,
                "Early: not determined; neither the late nor the active rule holds, but without a density to use, a preserved one cannot be shown."));
            undetermined = "early needs a preserved density, which is not known here";
            return null;
        }
        if (apicesTooFew is not null)
        {
            trace.Add(new FastTrackTraceEntry("Early: few giants and hemorrhages, preserved density", true, [], false,
                $"Early: not determined; neither the late nor the active rule holds, but whether giants are few is not known ({apicesTooFew})."));
            undetermined = $"early needs few giants, and the giant share is not known: {apicesTooFew}";
            return null;
        }
        trace.Add(new FastTrackTraceEntry("Early: few giants and hemorrhages, preserved density", true, [], true,
            "Early: neither the late nor the active rule holds."));
        return SclerodermaSubPattern.Early;
    }

    private static bool Rule(List<FastTrackTraceEntry> trace, string rule, bool requiresAll, params FastTrackCondition[] conditions)
    {
        bool holds = requiresAll ? conditions.All(c => c.Holds) : conditions.Any(c => c.Holds);
        string joiner = requiresAll ? "; and " : "; or ";
        trace.Add(new FastTrackTraceEntry(rule, requiresAll, conditions, holds,
            $"{rule}: {(holds ? "HOLDS" : "does not hold")} ({string.Join(joiner, conditions.Select(c => c.Text))})."));
        return holds;
    }
}
