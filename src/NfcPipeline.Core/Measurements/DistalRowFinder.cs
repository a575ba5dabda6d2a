using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Geometry;
using NfcPipeline.Core.Options;

namespace NfcPipeline.Core.Measurements;

/// <summary>
/// Finds the distal row at any orientation. The distal axis comes from the loops themselves (limb bottoms → apex),
/// refined by a line fit through the distal apices when the row is long enough. The apices are split into rows by
/// gaps in depth and the front row is kept; within it, an apex belongs to the distal row unless another apex, within
/// one loop width sideways, lies more than the band (half a loop height) further distally. Everything is built from
/// rotation-equivariant steps, so turning the image does not change the row.
/// </summary>
public sealed class DistalRowFinder
{
    private readonly DistalRowOptions _options;

    public DistalRowOptions Options => _options;

    public DistalRowFinder(DistalRowOptions? options = null)
    {
        _options = options ?? DistalRowOptions.Default;
        var problems = _options.Validate();
        if (problems.Count > 0) throw new ArgumentException("Invalid distal-row options: " + string.Join(" ", problems), nameof(options));
    }

    /// <param name="instances">The image's instances, aligned with <paramref name="measurements"/>.</param>
    /// <param name="earlierPass">The row found before some loops left it (cut by the frame): where the loops left show
    /// no direction of their own, its axis stands, rather than the top of the image.</param>
    public DistalRow Find(IReadOnlyList<CapillaryInstance> instances, IReadOnlyList<CapillaryMeasurement> measurements,
        Calibration calibration, FieldOfView field, DistalRow? earlierPass = null)
    {
        Calibration.ThrowIfUnscaled(calibration, nameof(calibration));
        if (instances.Count != measurements.Count) throw new ArgumentException("Instances and measurements must align.", nameof(measurements));
        // Masks are looked up by Index: a measurement made without its index would take instance 0's.
        for (int i = 0; i < measurements.Count; i++)
            if (measurements[i].Index != i) throw new ArgumentException($"Measurement {i} has Index {measurements[i].Index}; measure each instance with its index.", nameof(measurements));

        var candidates = measurements.Where(m => IsRowCandidate(m) && !m.ApexCutByFrame).ToList();
        double? loopHeight = Median(candidates.Select(m => m.LoopHeightPx).Where(v => v > 0));
        double bandPx = loopHeight is { } h
            ? _options.BandFractionOfLoopHeight * h : _options.FallbackBandUm / calibration.MicrometresPerPixel;
        double windowPx = Median(candidates.Select(m => m.LoopWidthPx).Where(v => v > 0)) is { } w
            ? _options.LateralWindowFractionOfLoopWidth * w : _options.FallbackLateralWindowUm / calibration.MicrometresPerPixel;

        var (axis, source) = EstimateAxis(instances, candidates);
        // The loops that left may have been the only ones showing the way: without them the image's top would be taken
        // for distal, and the nail at the bottom would make the deepest row the "front" one.
        if (earlierPass is { } earlier && source > DistalAxisSource.MaskShape && earlier.AxisSource <= DistalAxisSource.MaskShape)
            (axis, source) = (earlier.DistalAxis, earlier.AxisSource);
        // A row that runs up the image (its normal within 30° of horizontal): "towards the top" hardly tells its sides apart.
        bool directionUnknown = source == DistalAxisSource.ApexLineImageUp && Math.Abs(axis.Y) < 0.5;
        var apices = new List<(int Index, Point2 Apex)>();
        foreach (var m in candidates)
            if ((m.Apex ?? MostDistalPixel(instances[m.Index].Mask, axis)) is { } apex) apices.Add((m.Index, apex));

        double maxBehindPx = loopHeight is { } lh
            ? _options.MaxBehindRowFractionOfLoopHeight * lh : _options.FallbackMaxBehindRowUm / calibration.MicrometresPerPixel;
        double rowGapPx = Math.Max(_options.RowGapFractionOfLoopHeight * (loopHeight ?? 0), _options.MinRowGapUm / calibration.MicrometresPerPixel);
        List<(int Index, Point2 Apex)> Select(Point2 along) =>
            NearRowLine(SelectOutermost(FrontRow(apices, along, rowGapPx), along, bandPx, windowPx), along, maxBehindPx);

        // Rows are split by depth across the rows, not along the loops: where the loops lean against their row, depth
        // along the loops climbs by spacing × sin(lean) from one apex to the next, and in a sparse row that exceeds the
        // row gap and leaves every apex a row of its own. A line through all apices, when they lie in rows, gives the
        // rows' direction for that first split.
        var allRows = apices.Count >= _options.MinApicesForLineFit ? FittedNormal(apices.Select(a => a.Apex).ToList(), axis) : null;
        var distal = Select(allRows ?? axis);
        if (distal.Count >= _options.MinApicesForLineFit && FittedNormal(distal.Select(a => a.Apex).ToList(), axis) is { } fitted)
        {
            axis = fitted;
            source = DistalAxisSource.RowLineFit;
            distal = Select(axis);
        }
        else if (allRows is { } rows)
        {
            axis = rows;
            source = DistalAxisSource.RowLineFit;
        }

        var row = new DistalRow
        {
            Indices = distal.Select(a => a.Index).Order().ToArray(),
            DistalAxis = axis,
            AxisSource = source,
            DirectionUnknown = directionUnknown,
            BandPx = bandPx,
            LateralWindowPx = windowPx,
            // No loop at all is a density of 0 (an avascular field); loops whose apices all lie outside the frame, or
            // none of which has an apex to place, are no measurement at all, and must not pull a patient's mean
            // density down as a 0.
            DensityPerMm = distal.Count == 0 && apices.Count == candidates.Count
                && !measurements.Any(m => m.ApexCutByFrame && IsRowCandidate(m)) ? 0 : null,
            Unplaced = candidates.Count - apices.Count,
        };
        if (distal.Count == 0) return row;

        Point2 centre = new(distal.Average(a => a.Apex.X), distal.Average(a => a.Apex.Y));
        if (field.ClipLine(centre, axis.Perpendicular) is not { } chord) return row;
        double lengthPx = Point2.Distance(chord.Start, chord.End);
        double lengthMm = calibration.ToMicrometres(lengthPx) / 1000;
        return row with
        {
            Line = chord,
            LineLengthPx = lengthPx,
            LineLengthMm = lengthMm,
            DensityPerMm = lengthMm > 0 && lengthMm >= _options.MinRowLengthMm ? distal.Count / lengthMm : null,
            LineTooShort = lengthMm > 0 && lengthMm < _options.MinRowLengthMm,   // 0: a line touching a corner, no crossing
        };
    }

    /// <summary>Loops, and blurred capillaries where the options count them; never hemorrhages.</summary>
    private bool IsRowCandidate(CapillaryMeasurement m) =>
        m.Category != ClinicalCategory.Hemorrhage && (_options.CountBlurredInstances || m.Category != ClinicalCategory.Ungradable);

    private (Point2 Axis, DistalAxisSource Source) EstimateAxis(IReadOnlyList<CapillaryInstance> instances, List<CapillaryMeasurement> candidates)
    {
        var limbAxes = candidates.Where(m => m.Axis is not null).Select(m => m.Axis!.Value).ToList();
        if (RobustMeanDirection(limbAxes) is { } fromLimbs) return (fromLimbs, DistalAxisSource.LimbDirection);

        var maskAxes = new List<Point2>();
        foreach (var m in candidates)
            if (m.Apex is { } apex && Centroid(instances[m.Index].Mask) is { } centroid && (apex - centroid).Length > 0)
                maskAxes.Add((apex - centroid).Normalized());
        if (RobustMeanDirection(maskAxes) is { } fromMasks) return (fromMasks, DistalAxisSource.MaskShape);

        // No loop shows its direction: the row's line through the apices, or through the masks' centres for loops
        // without a confident apex (so a vertical row of such loops is still one row, not one loop per row).
        Point2 up = new(0, -1);
        var apices = candidates.Select(m => m.Apex ?? Centroid(instances[m.Index].Mask)).OfType<Point2>().ToList();
        if (apices.Count >= 2 && PrincipalDirection(apices) is { } line)
        {
            Point2 normal = line.Direction.Perpendicular;
            return (normal.Dot(up) >= 0 ? normal : -normal, DistalAxisSource.ApexLineImageUp);
        }
        return (up, DistalAxisSource.ImageUp);
    }

    /// <summary>The mean of unit vectors, recomputed without those more than 60° off it, so a few odd loops do not tilt it.</summary>
    private static Point2? RobustMeanDirection(List<Point2> directions)
    {
        if (directions.Count == 0) return null;
        Point2 mean = directions.Aggregate(default(Point2), (s, v) => s + v).Normalized();
        if (mean == default) return null;
        var inliers = directions.Where(v => v.Dot(mean) >= 0.5).ToList();
        if (inliers.Count == 0) return mean;
        Point2 refined = inliers.Aggregate(default(Point2), (s, v) => s + v).Normalized();
        return refined == default ? mean : refined;
    }

    /// <summary>
    /// Splits the apices into rows by depth (a gap of more than <paramref name="gapPx"/> between neighbours in depth
    /// starts a new row) and keeps the most distal row that holds at least MinRowShareOfLargest of the largest row's
    /// loops, and at least two when the largest has two or more, so a whole deeper row, or one stray apex in front
    /// (of a sparse row too, where 30 % of the largest is one loop), does not count as the distal row.
    /// </summary>
    private List<(int Index, Point2 Apex)> FrontRow(List<(int Index, Point2 Apex)> apices, Point2 axis, double gapPx)
    {
        if (apices.Count < 2) return apices;
        var byDepth = apices.OrderByDescending(a => a.Apex.Dot(axis)).ToList();
        var rows = new List<List<(int Index, Point2 Apex)>> { new() { byDepth[0] } };
        for (int i = 1; i < byDepth.Count; i++)
        {
            if (byDepth[i - 1].Apex.Dot(axis) - byDepth[i].Apex.Dot(axis) > gapPx) rows.Add([]);
            rows[^1].Add(byDepth[i]);
        }
        int largest = rows.Max(r => r.Count);
        double needed = Math.Max(largest >= 2 && _options.MinRowShareOfLargest > 0 ? 2 : 1, _options.MinRowShareOfLargest * largest);
        return rows.First(r => r.Count >= needed);
    }

    private static List<(int Index, Point2 Apex)> SelectOutermost(List<(int Index, Point2 Apex)> apices, Point2 axis, double bandPx, double windowPx)
    {
        Point2 across = axis.Perpendicular;
        var kept = new List<(int, Point2)>();
        foreach (var a in apices)
        {
            double p = a.Apex.Dot(axis), t = a.Apex.Dot(across);
            bool hidden = apices.Any(b => Math.Abs(b.Apex.Dot(across) - t) <= windowPx && b.Apex.Dot(axis) - p > bandPx);
            if (!hidden) kept.Add(a);
        }
        return kept;
    }

    /// <summary>
    /// Drops apices lying further behind the row's median level than <paramref name="maxBehindPx"/>: a loop of a deeper
    /// row showing through a gap in the distal row is not part of it.
    /// </summary>
    private static List<(int Index, Point2 Apex)> NearRowLine(List<(int Index, Point2 Apex)> apices, Point2 axis, double maxBehindPx)
    {
        if (apices.Count < 2) return apices;
        double level = Median(apices.Select(a => (double?)a.Apex.Dot(axis)))!.Value;
        return apices.Where(a => level - a.Apex.Dot(axis) <= maxBehindPx).ToList();
    }

    /// <summary>The normal of a line fitted through the apices, oriented like <paramref name="axis"/>, when the row is elongated and agrees.</summary>
    private Point2? FittedNormal(List<Point2> apices, Point2 axis)
    {
        if (PrincipalDirection(apices) is not { } line) return null;
        if (line.MinorSd > 0 && line.MajorSd < _options.MinRowElongation * line.MinorSd) return null;
        Point2 normal = line.Direction.Perpendicular;
        if (normal.Dot(axis) < 0) normal = -normal;
        double deviation = Math.Acos(Math.Clamp(normal.Dot(axis), -1, 1)) * 180 / Math.PI;
        return deviation <= _options.MaxFitDeviationDegrees ? normal : null;
    }

    /// <summary>Total-least-squares line direction (principal axis) with the spread along and across it.</summary>
    private static (Point2 Direction, double MajorSd, double MinorSd)? PrincipalDirection(List<Point2> points)
    {
        double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
        double sxx = points.Sum(p => (p.X - mx) * (p.X - mx)) / points.Count;
        double syy = points.Sum(p => (p.Y - my) * (p.Y - my)) / points.Count;
        double sxy = points.Sum(p => (p.X - mx) * (p.Y - my)) / points.Count;
        double trace = sxx + syy, det = sxx * syy - sxy * sxy;
        double disc = Math.Sqrt(Math.Max(0, trace * trace / 4 - det));
        double major = trace / 2 + disc, minor = Math.Max(0, trace / 2 - disc);
        if (!(major > 0)) return null;
        double angle = 0.5 * Math.Atan2(2 * sxy, sxx - syy);
        return (new Point2(Math.Cos(angle), Math.Sin(angle)), Math.Sqrt(major), Math.Sqrt(minor));
    }

    /// <summary>The centre of the mask pixel that lies furthest along the axis: the apex of a loop whose U keypoint is uncertain.</summary>
    private static Point2? MostDistalPixel(InstanceMask mask, Point2 axis)
    {
        Point2? best = null;
        double bestProjection = double.NegativeInfinity;
        var bits = mask.Bits;
        for (int y = 0; y < mask.Height; y++)
            for (int x = 0; x < mask.Width; x++)
            {
                if (!bits[y * mask.Width + x]) continue;
                var p = new Point2(mask.Left + x + 0.5, mask.Top + y + 0.5);
                double projection = p.Dot(axis);
                if (projection > bestProjection) { bestProjection = projection; best = p; }
            }
        return best;
    }

    private static Point2? Centroid(InstanceMask mask)
    {
        double sx = 0, sy = 0;
        long n = 0;
        var bits = mask.Bits;
        for (int y = 0; y < mask.Height; y++)
            for (int x = 0; x < mask.Width; x++)
                if (bits[y * mask.Width + x]) { sx += mask.Left + x + 0.5; sy += mask.Top + y + 0.5; n++; }
        return n == 0 ? null : new Point2(sx / n, sy / n);
    }

    private static double? Median(IEnumerable<double?> values)
    {
        var sorted = values.Where(v => v is not null && double.IsFinite(v.Value)).Select(v => v!.Value).Order().ToArray();
        if (sorted.Length == 0) return null;
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
